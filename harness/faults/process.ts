import type { Fault, FaultContext } from "./types.ts";
import { resolveTarget, type Target } from "./targets.ts";
import type { PodPart } from "../platform/local/pod.ts";

/** Restarts every hit node that is not running; shared heal of the process faults. */
async function restart(ctx: FaultContext, nodes: Iterable<string>): Promise<void> {
  for (const n of nodes) if (!ctx.cluster.isNodeRunning(n)) await ctx.cluster.startNode(n);
}

export async function resolveNow(ctx: FaultContext, target: Target): Promise<string[]> {
  const dcsLeader = target === "dcs-leader" ? await ctx.cluster.dcsLeader() : undefined;
  return resolveTarget(target, { members: await ctx.cluster.members(), dcsLeader });
}

/**
 * Pod kill: SIGKILL of Patroni, the postmaster and its children on the target; heal brings the node back,
 * as a kubelet restarts a killed pod.
 */
export function killFault(target: Target): Fault {
  const hit = new Set<string>();
  return {
    kind: "kill",
    target,
    resolve: (ctx) => resolveNow(ctx, target),
    async inject(ctx, nodes) {
      for (const n of nodes) {
        hit.add(n);
        await ctx.cluster.killNode(n);
      }
      return { signal: "SIGKILL" };
    },
    heal: (ctx) => restart(ctx, hit),
  };
}

/** Graceful stop of the target's Patroni (SIGTERM), as a drain does; heal starts it again. */
export function stopFault(target: Target): Fault {
  const hit = new Set<string>();
  return {
    kind: "stop",
    target,
    resolve: (ctx) => resolveNow(ctx, target),
    async inject(ctx, nodes) {
      for (const n of nodes) {
        hit.add(n);
        await ctx.cluster.stopNode(n);
      }
      return { signal: "SIGTERM" };
    },
    heal: (ctx) => restart(ctx, hit),
  };
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

/** SIGSTOP of Patroni and/or PostgreSQL on the target for the hold, SIGCONT at heal. */
export function pauseFault(target: Target, part: PodPart = "all"): Fault {
  const hit = new Set<string>();
  return {
    kind: "pause",
    target,
    resolve: (ctx) => resolveNow(ctx, target),
    async inject(ctx, nodes) {
      for (const n of nodes) {
        hit.add(n);
        await ctx.cluster.pause(n, part);
      }
      return { part, signal: "SIGSTOP" };
    },
    async heal(ctx) {
      for (const n of hit) await ctx.cluster.resume(n);
    },
  };
}

/**
 * SIGKILL of one part of the member: "postgres" (the postmaster and every backend; Patroni stays and
 * restarts it, nothing to heal) or "patroni" (PostgreSQL keeps running unmanaged; heal starts Patroni
 * again, which adopts the running postmaster).
 */
export function partKillFault(target: Target, part: "postgres" | "patroni"): Fault {
  const hit = new Set<string>();
  return {
    kind: `${part}-kill`,
    target,
    resolve: (ctx) => resolveNow(ctx, target),
    async inject(ctx, nodes) {
      for (const n of nodes) {
        hit.add(n);
        await ctx.cluster.killProcess(n, part);
      }
      return { part, signal: "SIGKILL" };
    },
    heal: (ctx) => (part === "patroni" ? restart(ctx, hit) : Promise.resolve()),
  };
}
