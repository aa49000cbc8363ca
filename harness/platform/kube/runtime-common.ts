/** What kind.ts and minikube.ts share: finding or building the image, waiting for nodes, options from the environment. */
import { connect } from "node:net";
import { resolve } from "node:path";
import { execa } from "execa";
import { AbortError } from "p-retry";
import type { Logger } from "pino";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { EnvironmentError } from "../../util/errors.ts";
import { waitFor } from "../../util/wait.ts";
import type { KubeClients } from "./client.ts";
import { assertPinnedImage } from "./image.ts";
import { DOCKER, ensureImage } from "../image.ts";
import type { PatroniHaStack } from "../../stack/patroni/stack.ts";
import { CONTROL_PLANE_LABEL } from "./manifests.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "../../..");

export interface KubeEnvOptions {
  /** Run in an existing cluster of that name instead of refusing it (each run has its own namespace). */
  reuse: boolean;
  /** Image reference; the member image built for the run's stack when unset. */
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

/** Problems with nodes that keep a cluster from being used: not Ready, or too few schedulable for the members (control planes excluded). */
export function nodeProblems(nodes: readonly V1Node[], members: number): string[] {
  const problems: string[] = [];
  for (const n of nodes) {
    const ready = n.status?.conditions?.find((c) => c.type === "Ready");
    if (ready?.status !== "True") problems.push(`node ${n.metadata?.name} is not Ready${ready?.message ? ` (${ready.message})` : ""}`);
  }
  // Members never go to a control plane (manifests.ts), tainted (kind) or not (minikube).
  const schedulable = nodes.filter(
    (n) =>
      !n.spec?.unschedulable &&
      n.metadata?.labels?.[CONTROL_PLANE_LABEL] === undefined &&
      !(n.spec?.taints ?? []).some((t) => t.effect === "NoSchedule" || t.effect === "NoExecute"),
  );
  if (schedulable.length < members) {
    problems.push(`${schedulable.length} schedulable nodes for ${members} members (one member per node): ${nodes.map((n) => n.metadata?.name).join(", ")}`);
  }
  return problems;
}

/**
 * Taints Kubernetes puts on and takes off by itself: a node that has just turned Ready keeps node.kubernetes.io/not-ready
 * until the node lifecycle controller sees it (seen on the first kind cluster that ran here: all four nodes Ready, the
 * workers still tainted for a few seconds). A cordon (unschedulable) is somebody's decision and stays.
 */
function transientTaint(t: { key: string }): boolean {
  return (t.key.startsWith("node.kubernetes.io/") && t.key !== "node.kubernetes.io/unschedulable") || t.key === "node.cloudprovider.kubernetes.io/uninitialized";
}

/**
 * Whether waiting can mend nodeProblems: not when every node is Ready and carries no taint Kubernetes takes off by itself
 * (then only the count is wrong, and stays so).
 */
export function nodeProblemsMayPass(nodes: readonly V1Node[]): boolean {
  return nodes.some((n) => n.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True" || (n.spec?.taints ?? []).some(transientTaint));
}

export async function waitNodesReady(c: KubeClients, members: number, where: string, timeoutMs = 180_000): Promise<void> {
  await waitFor({ condition: `every node Ready and ${members} schedulable`, where, timeoutMs, intervalMs: 1000 }, async () => {
    const nodes = (await c.core.listNode()).items;
    const problems = nodeProblems(nodes, members);
    if (problems.length === 0) return true;
    const e = new Error(problems.join("; "));
    // Too few nodes for the members does not mend itself: say so at once rather than after the timeout.
    throw nodeProblemsMayPass(nodes) ? e : new AbortError(new EnvironmentError(`${e.message} (every node is Ready)`));
  });
}

/** The InternalIP of the first node that matches. */
export function internalIp(nodes: readonly V1Node[], match: (n: V1Node) => boolean): string | undefined {
  return nodes.filter(match).flatMap((n) => n.status?.addresses ?? []).find((a) => a.type === "InternalIP")?.address;
}

/** The Docker engine kind and minikube's docker driver use: DOCKER_HOST, else the system's socket. */
export function engineHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || "unix:///var/run/docker.sock";
}

/**
 * The member image of the run's stack (platform/image.ts, the one the docker platform runs), built on this host's
 * Docker engine when missing, before any cluster is created: its reference.
 */
export async function buildMemberImage(stack: PatroniHaStack, log: Logger, signal?: AbortSignal): Promise<string> {
  return ensureImage(engineHost(), (line) => log.info(line), signal, stack);
}

/**
 * Makes sure the local Docker engine has `image` (the member image buildMemberImage made, or the user's, which must be
 * there already: a run pulls nothing by itself).
 */
export async function ensureLocalImage(image: string): Promise<void> {
  const has = await execa(DOCKER, ["-H", engineHost(), "image", "inspect", "--format", "{{.Id}}", image], { reject: false });
  if (has.exitCode !== 0) throw new EnvironmentError(`image ${image} is not in the local Docker engine: \`docker pull ${image}\` or build it, then run again`);
}

/** Runs a command, its stdout; throws naming `what`, with the end of its output, on a non-zero exit or at the timeout. */
export type Runner = (cmd: string, args: string[], what: string, timeoutMs?: number, env?: Record<string, string>) => Promise<string>;

export async function run(cmd: string, args: string[], what: string, timeoutMs = 600_000, env?: Record<string, string>): Promise<string> {
  const r = await execa(cmd, args, { reject: false, timeout: timeoutMs, all: true, ...(env ? { env } : {}) });
  if (r.exitCode !== 0) throw new Error(`${what}: \`${cmd} ${args.join(" ")}\` exited ${r.exitCode}:\n${(r.all ?? "").split("\n").slice(-20).join("\n")}`);
  return r.stdout;
}

/**
 * What a TCP connect to a node's NodePort says about the route from the host: undefined when the node answered
 * (a refusal is an answer: kube-proxy rejects a Service without endpoints, the node's kernel a port nothing
 * serves), why not otherwise.
 */
export function unreachableReason(code: string | undefined): string | undefined {
  switch (code) {
    case undefined:
    case "ECONNREFUSED":
    case "ECONNRESET":
      return undefined;
    case "ETIMEDOUT":
      return "no answer within the timeout";
    case "EHOSTUNREACH":
      return "no route to host";
    case "ENETUNREACH":
      return "network unreachable";
    default:
      return code;
  }
}

export function nodePortUnreachableMessage(what: string, host: string, port: number, reason: string): string {
  return (
    `${what} (NodePort ${host}:${port}) cannot be reached from this host: ${reason}. The harness reaches PostgreSQL on NodePorts ` +
    "of a node's address on the Docker network, which a Linux host running Docker Engine routes to; Docker Desktop, " +
    "a remote DOCKER_HOST or a firewall between the host and that network keeps it from them"
  );
}

/** Throws nodePortUnreachableMessage unless `host:port` answers (even with a refusal) within `timeoutMs`. */
export async function assertNodePortReachable(host: string, port: number, what: string, timeoutMs = 5000): Promise<void> {
  const code = await new Promise<string | undefined>((resolveCode) => {
    const sock = connect({ host, port });
    const done = (c: string | undefined) => {
      sock.destroy();
      resolveCode(c);
    };
    sock.setTimeout(timeoutMs, () => done("ETIMEDOUT"));
    sock.once("connect", () => done(undefined));
    sock.once("error", (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
  const reason = unreachableReason(code);
  if (reason !== undefined) throw new Error(nodePortUnreachableMessage(what, host, port, reason));
}

/** Waiting reasons no wait mends: the image cannot be pulled, or is not a valid name. */
const HOPELESS_WAITING = new Set(["ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"]);

/**
 * Why a member's container will never start, where the pods say so (the nodes cannot pull the image): undefined
 * otherwise. The readiness wait stops at once with it rather than after its timeout.
 */
export function imagePullProblem(pods: readonly Pick<V1Pod, "metadata" | "status">[]): string | undefined {
  for (const p of pods) {
    for (const c of p.status?.containerStatuses ?? []) {
      const w = c.state?.waiting;
      if (w?.reason && HOPELESS_WAITING.has(w.reason)) {
        return (
          `pod ${p.metadata?.name} cannot start: ${w.reason}${w.message ? ` (${w.message})` : ""}. The cluster's nodes cannot pull ${c.image || "the image"}: ` +
          "on kind and minikube pgchaos loads it from this host's Docker engine; on a cluster reached by context, push it to a registry its nodes " +
          "pull from with `npm run image -- --push <registry>/pgchaos/member` and set PGCHAOS_KUBE_IMAGE to what it prints"
        );
      }
    }
  }
  return undefined;
}
