import type { Fault } from "./types.ts";
import type { Target } from "./targets.ts";
import { resolveNow } from "./process.ts";

/** SIGKILL of the target's etcd member(s) ("dcs-leader", "majority" for quorum loss...); heal restarts them. */
export function dcsKillFault(target: Target): Fault {
  const hit = new Set<string>();
  return {
    kind: "dcs-kill",
    target,
    resolve: (ctx) => resolveNow(ctx, target),
    async inject(ctx, nodes) {
      for (const n of nodes) {
        hit.add(n);
        await ctx.cluster.killDcs(n);
      }
    },
    async heal(ctx) {
      for (const n of hit) await ctx.cluster.startDcs(n);
    },
  };
}

/** SIGSTOP of the target's etcd member(s); heal sends SIGCONT. */
export function dcsPauseFault(target: Target): Fault {
  const hit = new Set<string>();
  return {
    kind: "dcs-pause",
    target,
    resolve: (ctx) => resolveNow(ctx, target),
    async inject(ctx, nodes) {
      for (const n of nodes) {
        hit.add(n);
        await ctx.cluster.pauseDcs(n);
      }
    },
    async heal(ctx) {
      for (const n of hit) await ctx.cluster.resumeDcs(n);
    },
  };
}
