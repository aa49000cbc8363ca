import type { Fault, FaultContext } from "./types.ts";
import type { Target } from "./targets.ts";
import { perNodeFault, resolveNow } from "./per-node.ts";
import { waitFor } from "../util/wait.ts";

/** Waits until `node` is not the leader any more (after a switchover away from it). */
async function untilNotLeader(ctx: FaultContext, node: string): Promise<void> {
  await waitFor({ condition: `another leader than ${node}`, where: "the cluster", timeoutMs: 60_000, intervalMs: 200, signal: ctx.signal }, async () => {
    const ms = await ctx.cluster.members();
    return ms.some((m) => m.role === "leader" && m.name !== node && m.state === "running");
  });
}

/**
 * A node drain as Kubernetes operators do it: a planned switchover away from the node if it leads, then
 * a graceful stop of its member; heal brings it back (uncordon and reschedule).
 */
export function drainFault(target: Target): Fault {
  return perNodeFault({
    kind: "drain",
    target,
    async apply(ctx, n) {
      const leader = (await ctx.cluster.members()).find((m) => m.role === "leader")?.name;
      if (leader === n) {
        await ctx.cluster.switchover({});
        await untilNotLeader(ctx, n);
      }
      await ctx.cluster.stopNode(n);
    },
    async undo(ctx, n) {
      if (!ctx.cluster.isNodeRunning(n)) await ctx.cluster.startNode(n);
    },
  });
}

/**
 * Failure of the machine a member runs on (power loss): every process there dies and its network goes
 * silent, so unlike a pod kill nothing gets a connection reset. Locally the node's namespace loses its link,
 * its pod and its etcd member; on kind the Kubernetes node's container is killed. Heal powers it back on.
 */
export function nodeFailureFault(target: Target): Fault {
  const hosts: Record<string, string> = {};
  return perNodeFault({
    kind: "node-failure",
    target,
    detail: { hosts },
    async apply(ctx, n) {
      hosts[n] = (await ctx.cluster.failHost(n)).host;
    },
    undo: (ctx, n) => ctx.cluster.restoreHost(n),
  });
}

/**
 * A rolling restart of every member, replicas first and the leader last (after a switchover away from
 * it), each stopped gracefully, started and awaited before the next, as a StatefulSet rolling update does
 * with an operator that switches over before restarting the primary.
 */
export function rollingRestartFault(): Fault {
  return {
    kind: "rolling-restart",
    target: "all",
    resolve: (ctx) => resolveNow(ctx, "all"),
    async inject(ctx) {
      const order: string[] = [];
      const ms = await ctx.cluster.members();
      const leader = ms.find((m) => m.role === "leader")?.name;
      const sequence = [...ms.filter((m) => m.name !== leader).map((m) => m.name), ...(leader ? [leader] : [])];
      for (const n of sequence) {
        if (n === leader) {
          await ctx.cluster.switchover({});
          await untilNotLeader(ctx, n);
        }
        await ctx.cluster.stopNode(n);
        await ctx.cluster.startNode(n);
        await ctx.cluster.waitReady({ timeoutMs: 120_000, reason: `rolling restart of ${n}` });
        order.push(n);
      }
      return { order };
    },
    heal: async (ctx) => {
      for (const n of ctx.cluster.nodes) if (!ctx.cluster.isNodeRunning(n)) await ctx.cluster.startNode(n);
    },
  };
}

/** A manual failover to a replica through Patroni's REST API (POST /failover). */
export function failoverFault(target: Target): Fault {
  return {
    kind: "failover",
    target,
    resolve: (ctx) => resolveNow(ctx, target),
    async inject(ctx, nodes) {
      if (nodes.length !== 1) throw new Error(`failover needs one candidate, got ${nodes.join(", ")}`);
      return ctx.cluster.failover(nodes[0]!);
    },
    heal: async () => undefined,
  };
}
