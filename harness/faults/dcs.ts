import type { Fault } from "./types.ts";
import type { Target } from "./targets.ts";
import { perNodeFault } from "./per-node.ts";

/** SIGKILL of the target's etcd member(s) ("dcs-leader", "majority" for quorum loss...); heal restarts them. */
export function dcsKillFault(target: Target): Fault {
  return perNodeFault({ kind: "dcs-kill", target, apply: (ctx, n) => ctx.cluster.killDcs(n), undo: (ctx, n) => ctx.cluster.startDcs(n) });
}

/**
 * The whole coordination service lost: SIGKILL of every host's part of it (each etcd member beside Patroni;
 * pg_auto_failover's monitor); heal starts them all again.
 */
export function dcsLossFault(): Fault {
  let hit: string[] = [];
  return {
    kind: "dcs-loss",
    target: "all",
    resolve: async (ctx) => [...(ctx.cluster.dcsHosts?.() ?? ctx.cluster.nodes)],
    async inject(ctx, nodes) {
      hit = nodes;
      await Promise.all(nodes.map((n) => ctx.cluster.killDcs(n)));
    },
    async heal(ctx) {
      for (const n of hit) await ctx.cluster.startDcs(n);
      hit = [];
    },
  };
}

/** SIGSTOP of the target's etcd member(s); heal sends SIGCONT. */
export function dcsPauseFault(target: Target): Fault {
  return perNodeFault({ kind: "dcs-pause", target, apply: (ctx, n) => ctx.cluster.pauseDcs(n), undo: (ctx, n) => ctx.cluster.resumeDcs(n) });
}
