/**
 * Command lines the harness runs inside a pod through the Kubernetes exec API, all through the image's
 * `pgchaos-ctl` (fixtures/kube/pgchaos-ctl.sh), and the parsing of what it prints. Pure.
 */
import { POD_CTL } from "./manifests.ts";

export type PodPart = "patroni" | "postgres" | "all";

export const podCommands = {
  kill: (part: "patroni" | "postgres") => [POD_CTL, "kill", part],
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
