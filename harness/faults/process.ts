import type { Fault, FaultContext } from "./types.ts";
import type { Target } from "./targets.ts";
import type { PodPart } from "../platform/local/pod.ts";
import { perNodeFault, resolveNow } from "./per-node.ts";

/** Starts the node again if it is not running: the heal of every process fault that stops one. */
async function restart(ctx: FaultContext, node: string): Promise<void> {
  if (!ctx.cluster.isNodeRunning(node)) await ctx.cluster.startNode(node);
}

/**
 * Pod kill: SIGKILL of Patroni, the postmaster and its children on the target; heal brings the node back,
 * as a kubelet restarts a killed pod.
 */
export function killFault(target: Target): Fault {
  return perNodeFault({ kind: "kill", target, detail: { signal: "SIGKILL" }, apply: (ctx, n) => ctx.cluster.killNode(n), undo: restart });
}

/** Graceful stop of the target's Patroni (SIGTERM), as a drain does; heal starts it again. */
export function stopFault(target: Target): Fault {
  return perNodeFault({ kind: "stop", target, detail: { signal: "SIGTERM" }, apply: (ctx, n) => ctx.cluster.stopNode(n), undo: restart });
}

/** SIGSTOP of Patroni and/or PostgreSQL on the target for the hold, SIGCONT at heal. */
export function pauseFault(target: Target, part: PodPart = "all"): Fault {
  return perNodeFault({
    kind: "pause",
    target,
    detail: { part, signal: "SIGSTOP" },
    apply: (ctx, n) => ctx.cluster.pause(n, part),
    undo: (ctx, n) => ctx.cluster.resume(n),
  });
}

/**
 * SIGKILL of one part of the member: "postgres" (the postmaster and every backend; Patroni stays and
 * restarts it, nothing to heal) or "patroni" (PostgreSQL keeps running unmanaged; heal starts Patroni
 * again, which adopts the running postmaster).
 */
export function partKillFault(target: Target, part: "postgres" | "patroni"): Fault {
  return perNodeFault({
    kind: `${part}-kill`,
    target,
    detail: { part, signal: "SIGKILL" },
    apply: (ctx, n) => ctx.cluster.killProcess(n, part),
    undo: part === "patroni" ? restart : undefined,
  });
}

/** Planned switchover through Patroni's REST API, optionally to a named candidate; nothing to heal. */
export function switchoverFault(candidate?: string): Fault {
  return {
    kind: "switchover",
    target: "primary",
    resolve: (ctx) => resolveNow(ctx, "primary"),
    async inject(ctx) {
      const r = await ctx.cluster.switchover({ candidate });
      return { from: r.from, to: r.to, candidate };
    },
    heal: async () => undefined,
  };
}
