/**
 * Command lines the harness runs inside a pod through the Kubernetes exec API, all through the image's
 * `pgchaos-ctl` (fixtures/image/pgchaos-ctl.sh), and the parsing of what it prints. Pure.
 */
import { HOLD_GATE, POD_CTL } from "./manifests.ts";

export type PodPart = "patroni" | "postgres" | "all";

export const podCommands = {
  kill: (part: "patroni" | "postgres") => [POD_CTL, "kill", part],
  /**
   * SIGKILL of every process of the container but its PID 1 (the kernel spares a namespace's init) and the
   * shell itself (kill(-1) spares the caller): Patroni, the postmaster and every backend die at once, with no
   * shutdown and no release of the leader key. The pod's init only reaps afterwards; it starts nothing.
   */
  killAll: () => ["sh", "-c", "kill -9 -1"],
  pause: (part: PodPart) => [POD_CTL, "pause", part],
  resume: () => [POD_CTL, "resume"],
  startPatroni: () => [POD_CTL, "start-patroni"],
  patroniRunning: () => [POD_CTL, "patroni-running"],
  rest: (method: "GET" | "POST" | "PATCH", path: string, body?: unknown) => {
    if (!path.startsWith("/")) throw new Error(`Patroni REST path must start with "/", got ${JSON.stringify(path)}`);
    return [POD_CTL, "rest", method, path, ...(body === undefined ? [] : [JSON.stringify(body)])];
  },
};

export interface RestReply {
  status: number;
  body: string;
}

/** `pgchaos-ctl rest` prints the HTTP status on its first line and the body after it. */
export function parseRestOutput(stdout: string): RestReply {
  const nl = stdout.indexOf("\n");
  const first = (nl < 0 ? stdout : stdout.slice(0, nl)).trim();
  if (!/^\d{3}$/.test(first)) throw new Error(`unexpected output of pgchaos-ctl rest: ${JSON.stringify(stdout.slice(0, 200))}`);
  return { status: Number(first), body: nl < 0 ? "" : stdout.slice(nl + 1).replace(/\n$/, "") };
}

/** What an exec ended with, from the V1Status the exec API sends on its error channel. */
export function execExitCode(status: { status?: string; reason?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } } | undefined): number {
  if (!status || status.status === "Success") return 0;
  const code = status.details?.causes?.find((c) => c.reason === "ExitCode")?.message;
  return code !== undefined && /^\d+$/.test(code) ? Number(code) : 1;
}

/** One RFC 6902 operation, as the patch calls of @kubernetes/client-node take them. */
export type JsonPatchOp = { op: "test" | "replace"; path: string; value: unknown };

/**
 * The JSON patch that releases a held pod (manifests.ts HOLD_GATE): its scheduling gates without ours, guarded by
 * a test of the gates read (a pod changed meanwhile makes the patch fail rather than drop someone else's gate).
 * Undefined when the pod is not held by us. The API server only lets gates be removed, never added, to a pod.
 */
export function releasePatch(gates: ReadonlyArray<{ name: string }> | undefined): JsonPatchOp[] | undefined {
  if (!gates?.some((g) => g.name === HOLD_GATE)) return undefined;
  const path = "/spec/schedulingGates";
  return [
    { op: "test", path, value: gates },
    { op: "replace", path, value: gates.filter((g) => g.name !== HOLD_GATE) },
  ];
}
