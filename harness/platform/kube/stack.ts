/**
 * Patroni on the Kubernetes platforms: the stack a run names (Debian 12's by default) runs from the member image
 * built for it (platform/image.ts), and its REST API is reached by an exec of `pgchaos-ctl rest` in the pod. Pure
 * but for the exec it is given.
 */
import type { PatroniHaStack } from "../../stack/patroni/stack.ts";
import type { AgentApi } from "../../stack/types.ts";
import { EnvironmentError } from "../../util/errors.ts";
import type { ExecResult } from "./client.ts";
import { parseRestOutput, podCommands } from "./pod-ops.ts";

/** An exec in the member's pod: the cluster's is the Kubernetes exec API (client.ts execInPod). */
/** Runs `argv` in the member's pod: in its database container unless `container` names another (the network agent). */
export type PodExec = (node: string, argv: string[], timeoutMs?: number, container?: string) => Promise<ExecResult>;

/**
 * Patroni's REST API of a member, through `pgchaos-ctl rest` in its own pod (pod addresses are not reachable from
 * the host). The script gives Patroni 30 s; the exec is given 60 s to include its own set-up.
 */
export function podAgentApi(exec: PodExec): AgentApi {
  return async (node, req) => {
    if (req.method === "EXEC") {
      const x = await exec(node, req.argv, req.timeoutMs ?? 60_000);
      return { status: x.exitCode, body: x.stdout };
    }
    const r = await exec(node, podCommands.rest(req.method, req.path, req.body), 60_000);
    if (r.exitCode !== 0) throw new Error(`${req.method} ${req.path} on ${node}: ${(r.stderr || r.stdout).trim()}`);
    return parseRestOutput(r.stdout);
  };
}

/** The pod's Patroni is another version than the run's. */
export class PatroniMismatchError extends EnvironmentError {}

/**
 * Throws unless the pod's Patroni is the one the run reports: an image given by reference (PGCHAOS_KUBE_IMAGE) may
 * carry any, and a report naming the wrong version is worse than no run.
 */
export async function checkPodPatroni(exec: PodExec, node: string, stack: PatroniHaStack, image: string): Promise<void> {
  const r = await exec(node, ["patroni", "--version"], 30_000);
  const got = /patroni (\S+)/.exec(r.stdout)?.[1];
  if (r.exitCode !== 0 || got === undefined) throw new EnvironmentError(`\`patroni --version\` in pod ${node} (image ${image}) failed: ${(r.stderr || r.stdout).trim()}`);
  if (got !== stack.info.version) {
    throw new PatroniMismatchError(
      `image ${image} runs Patroni ${got}, and this run is ${stack.info.name}: build the image for it with \`npm run image -- --stack ${stack.info.name}\`, or run --stack patroni@${got} if that stack is known`,
    );
  }
}
