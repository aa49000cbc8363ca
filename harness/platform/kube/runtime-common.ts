/** What kind.ts and minikube.ts share: finding or building the image, waiting for nodes, options from the environment. */
import { resolve } from "node:path";
import { execa } from "execa";
import type { Logger } from "pino";
import type { V1Node } from "@kubernetes/client-node";
import { EnvironmentError } from "../../util/errors.ts";
import { waitFor } from "../../util/wait.ts";
import type { KubeClients } from "./client.ts";
import { assertPinnedImage, DEFAULT_IMAGE } from "./image.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "../../..");
export const FIXTURES_DIR = resolve(REPO_ROOT, "fixtures/kube");

export interface KubeEnvOptions {
  /** Run in an existing cluster of that name instead of refusing it (each run has its own namespace). */
  reuse: boolean;
  /** Image reference; DEFAULT_IMAGE when unset. */
  image?: string;
}

/**
 * Options a user sets in the environment until the CLI has flags for them: PGCHAOS_KUBE_REUSE=1 (`--reuse`)
 * and PGCHAOS_KUBE_IMAGE=<pinned ref>.
 */
export function kubeEnvOptions(env: NodeJS.ProcessEnv = process.env): KubeEnvOptions {
  const image = env.PGCHAOS_KUBE_IMAGE || undefined;
  if (image) assertPinnedImage(image);
  return { reuse: env.PGCHAOS_KUBE_REUSE === "1" || env.PGCHAOS_KUBE_REUSE === "true", image };
}

/** Problems with nodes that keep a cluster from being used: not Ready, or too few schedulable for the members. */
export function nodeProblems(nodes: readonly V1Node[], members: number): string[] {
  const problems: string[] = [];
  for (const n of nodes) {
    const ready = n.status?.conditions?.find((c) => c.type === "Ready");
    if (ready?.status !== "True") problems.push(`node ${n.metadata?.name} is not Ready${ready?.message ? ` (${ready.message})` : ""}`);
  }
  const schedulable = nodes.filter((n) => !n.spec?.unschedulable && !(n.spec?.taints ?? []).some((t) => t.effect === "NoSchedule" || t.effect === "NoExecute"));
  if (schedulable.length < members) {
    problems.push(`${schedulable.length} schedulable nodes for ${members} members (one member per node): ${nodes.map((n) => n.metadata?.name).join(", ")}`);
  }
  return problems;
}

export async function waitNodesReady(c: KubeClients, members: number, where: string, timeoutMs = 180_000): Promise<void> {
  await waitFor({ condition: `every node Ready and ${members} schedulable`, where, timeoutMs, intervalMs: 1000 }, async () => {
    const problems = nodeProblems((await c.core.listNode()).items, members);
    if (problems.length > 0) throw new Error(problems.join("; "));
    return true;
  });
}

/** The InternalIP of the first node that matches. */
export function internalIp(nodes: readonly V1Node[], match: (n: V1Node) => boolean): string | undefined {
  return nodes.filter(match).flatMap((n) => n.status?.addresses ?? []).find((a) => a.type === "InternalIP")?.address;
}

/**
 * Makes sure the local Docker engine has `image`: the default image is built from fixtures/kube when missing;
 * any other image must be there already (pulled or built by the user), since a run pulls nothing by itself.
 */
export async function ensureLocalImage(image: string, log: Logger): Promise<void> {
  const has = await execa("docker", ["image", "inspect", "--format", "{{.Id}}", image], { reject: false });
  if (has.exitCode === 0) return;
  if (image !== DEFAULT_IMAGE) {
    throw new EnvironmentError(`image ${image} is not in the local Docker engine: \`docker pull ${image}\` or build it, then run again`);
  }
  log.info({ image }, "building the image from fixtures/kube (a few minutes, once)");
  const r = await execa("docker", ["build", "-t", image, FIXTURES_DIR], { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`docker build -t ${image} ${FIXTURES_DIR} failed:\n${(r.all ?? "").split("\n").slice(-30).join("\n")}`);
}

export async function run(cmd: string, args: string[], what: string, timeoutMs = 600_000): Promise<string> {
  const r = await execa(cmd, args, { reject: false, timeout: timeoutMs, all: true });
  if (r.exitCode !== 0) throw new Error(`${what}: \`${cmd} ${args.join(" ")}\` exited ${r.exitCode}:\n${(r.all ?? "").split("\n").slice(-20).join("\n")}`);
  return r.stdout;
}
