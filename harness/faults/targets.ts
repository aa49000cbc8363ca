import type { Member } from "../platform/types.ts";

/** Who a fault hits, resolved against the cluster as it is at inject time (DESIGN.md, idea 3). */
export type Target =
  | "primary"
  | "replica"
  | "sync-standby"
  | "dcs-leader"
  | "one"
  | "minority"
  | "majority"
  | "all"
  /** A node by name, e.g. "n2". */
  | (string & {});

export const ROLE_TARGETS = ["primary", "replica", "sync-standby", "dcs-leader", "one", "minority", "majority", "all"] as const;

export function isRoleTarget(s: string): boolean {
  return (ROLE_TARGETS as readonly string[]).includes(s);
}

export interface TargetView {
  members: readonly Member[];
  /** Name of the node whose DCS member leads, where the platform knows it. */
  dcsLeader?: string;
}

function pick<T>(xs: readonly T[], k: number, random: () => number): T[] {
  const pool = [...xs];
  const out: T[] = [];
  while (out.length < k && pool.length > 0) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out;
}

/** Node names the target means now; throws with the cluster's state when it means nobody. */
export function resolveTarget(target: Target, view: TargetView, random: () => number = Math.random): string[] {
  const names = view.members.map((m) => m.name);
  const state = view.members.map((m) => `${m.name}:${m.role}`).join(", ") || "no members";
  const none = (why: string) => new Error(`target "${target}" matches no node: ${why} (members: ${state})`);
  const leader = view.members.find((m) => m.role === "leader");
  switch (target) {
    case "primary":
      if (!leader) throw none("there is no leader");
      return [leader.name];
    case "replica": {
      const replicas = view.members.filter((m) => m.role !== "leader");
      if (replicas.length === 0) throw none("there is no replica");
      return pick(replicas.map((m) => m.name), 1, random);
    }
    case "sync-standby": {
      const sync = view.members.filter((m) => m.role === "sync_standby");
      if (sync.length === 0) throw none("no synchronous standby (is synchronous_mode on?)");
      return pick(sync.map((m) => m.name), 1, random);
    }
    case "dcs-leader":
      if (!view.dcsLeader) throw none("the DCS leader is unknown");
      return [view.dcsLeader];
    case "one":
      return pick(names, 1, random);
    case "minority":
      return pick(names, Math.floor((names.length - 1) / 2), random);
    case "majority":
      return pick(names, Math.floor(names.length / 2) + 1, random);
    case "all":
      return [...names];
    default: {
      const node = target;
      if (!names.includes(node)) throw none(`no node named "${node}"`);
      return [node];
    }
  }
}
