/**
 * The HA stack of the Kubernetes platforms: the Patroni the image carries (fixtures/kube/Dockerfile, pip-installed
 * from PyPI), described for the stack code (versions.ts imagePatroni), and the way to its REST API (exec of
 * `pgchaos-ctl rest` in the pod). Pure but for the exec it is given.
 */
import { PatroniHaStack } from "../../stack/patroni/stack.ts";
import { imagePatroni } from "../../stack/patroni/versions.ts";
import type { AgentApi } from "../../stack/types.ts";
import { UsageError } from "../../util/errors.ts";
import type { ExecResult } from "./client.ts";
import { DEFAULT_IMAGE, PATRONI_VERSION } from "./image.ts";
import { parseRestOutput, podCommands } from "./pod-ops.ts";

export const DOCKERFILE = "fixtures/kube/Dockerfile";

/** Where Patroni sits in the image (the Dockerfile links the venv's scripts into /usr/local/bin). */
const BIN = "/usr/local/bin/patroni";
const CTL = "/usr/local/bin/patronictl";

/**
 * The Patroni the pods run: PATRONI_VERSION (image.ts, which image.test.ts holds to the Dockerfile's ARG). An image
 * given with --image is taken to carry the same version; nothing checks that.
 */
export function imageStack(image: string = DEFAULT_IMAGE): PatroniHaStack {
  const version = imagePatroni(PATRONI_VERSION, { ref: image, dockerfile: DOCKERFILE });
  const source =
    image === DEFAULT_IMAGE
      ? `image ${image} built from ${DOCKERFILE}: ${version.image.pip} pip-installed from PyPI`
      : `image ${image}, taken to carry Patroni ${PATRONI_VERSION} like ${DOCKERFILE} (not checked)`;
  return new PatroniHaStack(version, { bin: BIN, patronictl: CTL, version: PATRONI_VERSION, sha256: undefined, source });
}

/**
 * The stack a Kubernetes run runs: the image's. A run that asks for another Patroni (`asked` of another version)
 * is refused before anything is created: the pods would run the image's whatever was asked, and the reports
 * would name the wrong one.
 */
export function kubeStack(asked: PatroniHaStack | undefined, image: PatroniHaStack, platform: string): PatroniHaStack {
  if (asked && asked.version.version !== image.version.version) {
    throw new UsageError(
      `the ${platform} platform runs Patroni ${image.version.version}, the one its image carries (${image.info.source}); ` +
        `this run asks for ${asked.info.name} (Patroni ${asked.version.version}). Run ${asked.info.name} on the local platform, ` +
        `or change PATRONI_VERSION in ${DOCKERFILE} and harness/platform/kube/image.ts to run another Patroni on ${platform}`,
    );
  }
  return image;
}

/** An exec in the member's pod: the cluster's is the Kubernetes exec API (client.ts execInPod). */
export type PodExec = (node: string, argv: string[], timeoutMs?: number) => Promise<ExecResult>;

/**
 * Patroni's REST API of a member, through `pgchaos-ctl rest` in its own pod (pod addresses are not reachable from
 * the host). The script gives Patroni 30 s; the exec is given 60 s to include its own set-up.
 */
export function podAgentApi(exec: PodExec): AgentApi {
  return async (node, req) => {
    const r = await exec(node, podCommands.rest(req.method, req.path, req.body), 60_000);
    if (r.exitCode !== 0) throw new Error(`${req.method} ${req.path} on ${node}: ${(r.stderr || r.stdout).trim()}`);
    return parseRestOutput(r.stdout);
  };
}
