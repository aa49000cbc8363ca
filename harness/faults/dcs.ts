import type { Fault } from "./types.ts";
import type { Target } from "./targets.ts";
import { perNodeFault } from "./per-node.ts";

/** SIGKILL of the target's etcd member(s) ("dcs-leader", "majority" for quorum loss...); heal restarts them. */
export function dcsKillFault(target: Target): Fault {
  return perNodeFault({ kind: "dcs-kill", target, apply: (ctx, n) => ctx.cluster.killDcs(n), undo: (ctx, n) => ctx.cluster.startDcs(n) });
}

/** SIGSTOP of the target's etcd member(s); heal sends SIGCONT. */
export function dcsPauseFault(target: Target): Fault {
  return perNodeFault({ kind: "dcs-pause", target, apply: (ctx, n) => ctx.cluster.pauseDcs(n), undo: (ctx, n) => ctx.cluster.resumeDcs(n) });
}
