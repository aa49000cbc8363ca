import type { Fault, FaultContext } from "./types.ts";
import { resolveTarget, type Target } from "./targets.ts";
import { waitFor } from "../util/wait.ts";

/** The nodes `target` means now: the primary is asked for at the moment of the fault, never assumed. */
export async function resolveNow(ctx: FaultContext, target: Target): Promise<string[]> {
  // An election may be under way: wait a little for the DCS to have a leader before saying there is none.
  const dcsLeader =
    target === "dcs-leader"
      ? await waitFor({ condition: "an etcd leader", where: "the DCS", timeoutMs: 15_000, intervalMs: 200, signal: ctx.signal }, () => ctx.cluster.dcsLeader()).catch((e: unknown) => {
          if (ctx.signal?.aborted) throw e;
          return undefined;
        })
      : undefined;
  return resolveTarget(target, { members: await ctx.cluster.members(), dcsLeader });
}

/**
 * Most faults do one thing to each node the target resolves to and undo it at heal. This builds such a
 * fault: heal visits only the nodes inject reached (also when inject failed halfway), is idempotent as
 * long as `undo` is, and never touches a node the fault did not hit.
 */
export function perNodeFault(spec: {
  kind: string;
  target: Target;
  detail?: Record<string, unknown>;
  /** Runs before the target is resolved (a capability check, for example). */
  precheck?: (ctx: FaultContext) => Promise<void>;
  apply: (ctx: FaultContext, node: string) => Promise<unknown>;
  undo?: (ctx: FaultContext, node: string) => Promise<unknown>;
}): Fault {
  const hit = new Set<string>();
  return {
    kind: spec.kind,
    target: spec.target,
    async resolve(ctx) {
      await spec.precheck?.(ctx);
      return resolveNow(ctx, spec.target);
    },
    async inject(ctx, nodes) {
      for (const n of nodes) {
        hit.add(n);
        await spec.apply(ctx, n);
      }
      return spec.detail;
    },
    async heal(ctx) {
      if (!spec.undo) return;
      for (const n of hit) await spec.undo(ctx, n);
    },
  };
}
