import type { Fault, FaultContext } from "./types.ts";
import type { Target } from "./targets.ts";
import { perNodeFault, resolveNow } from "./per-node.ts";
import { bridge, describeGrudge, isolate, majorityMinority, oneWayIn, oneWayOut, validate, type Grudge } from "./grudge.ts";
import { dcsCutRules, grudgeRules, lossRules, NETEM_REFUSAL, type NodeCommand } from "./rules.ts";
import { EnvironmentError } from "../util/errors.ts";

export type PartitionShape = "isolate" | "dcs-isolate" | "oneway-in" | "oneway-out" | "majority-minority" | "bridge";

/** The grudge (or, for a DCS-only cut, the rules) a shape means for the resolved nodes. */
function rulesFor(ctx: FaultContext, shape: PartitionShape, nodes: string[]): { rules: NodeCommand[]; description: string } {
  const c = ctx.cluster;
  // The stack's own service hosts (a monitor) are peers too: an isolated member is cut from them as well.
  const all = [...c.nodes, ...(c.serviceHosts ?? [])];
  if (shape === "dcs-isolate") {
    // etcd runs as root here and Patroni as postgres: only Patroni's DCS traffic is dropped.
    const rules = c.dcsCutRules?.(nodes) ?? nodes.flatMap((n) => dcsCutRules(n, c.ruleTag, { uidOwner: "postgres" }));
    return { rules, description: `${nodes.join(", ")} ⇸ DCS` };
  }
  const one = () => {
    if (nodes.length !== 1) throw new Error(`partition ${shape} needs exactly one target node, got ${nodes.join(", ") || "none"}`);
    return nodes[0]!;
  };
  let g: Grudge;
  switch (shape) {
    case "isolate":
      g = isolate(one(), all, { clients: true });
      break;
    case "oneway-in":
      g = oneWayIn(one(), all);
      break;
    case "oneway-out":
      g = oneWayOut(one(), all);
      break;
    case "majority-minority":
      g = majorityMinority(all, nodes, { clientsWith: "majority" });
      break;
    case "bridge":
      g = bridge(all, one());
      break;
  }
  validate(g, all);
  return { rules: c.partitionRules?.(g) ?? grudgeRules(g, (n) => c.addressOf(n), c.clientsAddress, c.ruleTag), description: describeGrudge(g) };
}

/** The rules node by node, in the order the nodes first appear; each node's at once where the platform can (iptablesBatch). */
export async function applyRules(ctx: FaultContext, rules: readonly NodeCommand[]): Promise<void> {
  const c = ctx.cluster;
  if (!c.iptablesBatch) {
    for (const r of rules) await c.iptables(r.node, r.args);
    return;
  }
  const byNode = new Map<string, string[][]>();
  for (const r of rules) byNode.set(r.node, [...(byNode.get(r.node) ?? []), r.args]);
  for (const [node, args] of byNode) await c.iptablesBatch(node, args);
}

async function clearAll(ctx: FaultContext): Promise<void> {
  await ctx.cluster.clearRules();
}

/** A network partition of the given shape; heal removes every rule the run added, on every node. */
export function partitionFault(shape: PartitionShape, target: Target): Fault {
  return {
    kind: `partition:${shape}`,
    target,
    resolve: (ctx) => resolveNow(ctx, target),
    async inject(ctx, nodes) {
      const { rules, description } = rulesFor(ctx, shape, nodes);
      await applyRules(ctx, rules);
      return { shape, grudge: description, rules: rules.length };
    },
    heal: clearAll,
  };
}

/** Random loss of incoming packets on the target at the given probability. */
export function packetLossFault(target: Target, probability: number): Fault {
  return perNodeFault({
    kind: "packet-loss",
    target,
    detail: { probability },
    apply: async (ctx, n) => {
      for (const r of lossRules(n, probability, ctx.cluster.ruleTag)) await ctx.cluster.iptables(r.node, r.args);
    },
    undo: (ctx, n) => ctx.cluster.clearRules(n),
  });
}

/** The target's only network link goes down; heal brings it up. */
export function linkDownFault(target: Target): Fault {
  return perNodeFault({ kind: "link-down", target, apply: (ctx, n) => ctx.cluster.setLink(n, false), undo: (ctx, n) => ctx.cluster.setLink(n, true) });
}

/** Added latency on the target's link (netem); refused, saying why, where the kernel has no netem. */
export function latencyFault(target: Target, delayMs: number, jitterMs = 0): Fault {
  return perNodeFault({
    kind: "latency",
    target,
    detail: { delayMs, jitterMs },
    async precheck(ctx) {
      const why = await ctx.cluster.latencyUnsupported();
      if (why) throw new EnvironmentError(`${NETEM_REFUSAL} (${why})`);
    },
    apply: (ctx, n) => ctx.cluster.tc(n, ["qdisc", "add", "dev", "eth0", "root", "netem", "delay", `${delayMs}ms`, ...(jitterMs ? [`${jitterMs}ms`] : [])]),
    undo: (ctx, n) => ctx.cluster.tc(n, ["qdisc", "del", "dev", "eth0", "root"]).catch(() => undefined),
  });
}
