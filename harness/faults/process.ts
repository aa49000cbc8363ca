import type { Fault, FaultContext } from "./types.ts";
import { resolveTarget, type Target } from "./targets.ts";

/** Restarts every hit node that is not running; shared heal of the process faults. */
async function restart(ctx: FaultContext, nodes: Iterable<string>): Promise<void> {
  for (const n of nodes) if (!ctx.cluster.isNodeRunning(n)) await ctx.cluster.startNode(n);
}

async function resolveNow(ctx: FaultContext, target: Target): Promise<string[]> {
  return resolveTarget(target, { members: await ctx.cluster.members() });
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
