/**
 * What both kinds of kube cluster (a deployed one, cluster.ts; an attached one, attach-cluster.ts) do alike for the
 * run's records and probes, where they reach pods through the API only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeClients } from "./client.ts";

/** Each pod's container log, and its previous container's where there was one, into `<dest>/<pod>/<base>.log` and `<base>.previous.log`. */
export async function copyPodLogs(c: KubeClients, o: { namespace: string; pods: readonly string[]; container: string; dest: string; base: string }): Promise<void> {
  for (const n of o.pods) {
    mkdirSync(join(o.dest, n), { recursive: true });
    for (const previous of [false, true]) {
      try {
        const text = await c.core.readNamespacedPodLog({ name: n, namespace: o.namespace, container: o.container, previous });
        writeFileSync(join(o.dest, n, `${o.base}${previous ? ".previous" : ""}.log`), text);
      } catch {
        // No such pod, or no previous container: nothing to copy.
      }
    }
  }
}

/**
 * A node probe run on this machine, reaching its member through the member's port-forward listener (which enters the
 * pod on its own loopback: beside the database), its stderr in `<runDir>/logs/agent-<node>.log`, marked for cleanup.
 */
export function spawnProbeHere(runDir: string, node: string, argv: string[], env: Record<string, string>, marker: string): ChildProcess {
  const logDir = join(runDir, "logs");
  mkdirSync(logDir, { recursive: true });
  const err = openSync(join(logDir, `agent-${node}.log`), "a");
  try {
    return spawn(argv[0]!, [...argv.slice(1), `--pgchaos-run=${marker}`], { stdio: ["ignore", "pipe", err], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
  } finally {
    closeSync(err);
  }
}
