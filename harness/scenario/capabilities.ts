import type { FaultSpec } from "../faults/spec.ts";
import type { StackCapability } from "../stack/types.ts";
import { UsageError } from "../util/errors.ts";

/** What a platform can do to the machines it runs members on. */
export type PlatformCapability =
  | "kill"
  | "graceful-stop"
  | "pause"
  | "process-kill"
  | "partition"
  | "link-down"
  | "packet-loss"
  | "latency"
  | "node-failure"
  /**
   * Draining the machine a member runs on (on Kubernetes: cordoning its node, which other workloads may share),
   * beyond stopping the member gracefully.
   */
  | "node-drain"
  /** The stack's coordination service runs as a member on each node that can be killed or paused. */
  | "dcs-members"
  /** A backup repository of the run every member archives to, and a scratch instance beside the cluster to restore into. */
  | "backup";

interface Needs {
  platform?: PlatformCapability[];
  stack?: StackCapability[];
  /** Why, in the refusal. */
  what: string;
}

/** What each fault kind needs of the platform and the stack (Jepsen's nemesis offers a fault only where the db supports it). */
export const FAULT_NEEDS: Record<FaultSpec["kind"], Needs> = {
  kill: { platform: ["kill"], what: "killing a member's machine processes" },
  stop: { platform: ["graceful-stop"], what: "a graceful stop of a member" },
  pause: { platform: ["pause"], what: "freezing a member's processes" },
  "postgres-kill": { platform: ["process-kill"], stack: ["agent-process"], what: "killing PostgreSQL alone beside a living HA agent" },
  "patroni-kill": { platform: ["process-kill"], stack: ["agent-process"], what: "killing the HA agent alone" },
  switchover: { stack: ["switchover"], what: "a planned switchover through the stack's API" },
  failover: { stack: ["failover"], what: "a manual failover through the stack's API" },
  drain: { platform: ["graceful-stop", "node-drain"], stack: ["switchover"], what: "a drain (switchover away, then a graceful stop of the member, its machine taken out of service)" },
  "node-failure": { platform: ["node-failure"], what: "the machine under a member failing" },
  "rolling-restart": { platform: ["graceful-stop"], stack: ["switchover"], what: "a rolling restart" },
  partition: { platform: ["partition"], what: "network partitions" },
  "link-down": { platform: ["link-down"], what: "taking a member's link down" },
  "packet-loss": { platform: ["packet-loss"], what: "random packet loss" },
  latency: { platform: ["latency"], what: "added latency" },
  "dcs-kill": { platform: ["dcs-members"], stack: ["dcs-members"], what: "killing coordination-service members" },
  "dcs-pause": { platform: ["dcs-members"], stack: ["dcs-members"], what: "pausing coordination-service members" },
  "dcs-loss": { platform: ["dcs-members"], stack: ["dcs"], what: "losing the whole coordination service" },
  backup: { platform: ["backup"], stack: ["backup"], what: "a full backup to a repository of the run" },
  disaster: { platform: ["backup"], stack: ["backup"], what: "the loss of every member's data and a restore from the run's backups" },
};

export interface CapabilityHolder<C> {
  name: string;
  capabilities: ReadonlySet<C>;
  /** Why a capability is missing, where the holder can say. */
  whyNot?: Partial<Record<C & string, string>>;
}

/** Each fault of the schedule the platform or the stack cannot do, as a sentence; empty when all can be done. */
export function unsupported(
  faults: readonly FaultSpec[],
  platform: CapabilityHolder<PlatformCapability>,
  stack: CapabilityHolder<StackCapability>,
): string[] {
  const out: string[] = [];
  for (const f of faults) {
    const needs = FAULT_NEEDS[f.kind];
    for (const c of needs.platform ?? []) {
      if (!platform.capabilities.has(c)) out.push(`the ${f.kind} fault (${needs.what}) needs "${c}", which the ${platform.name} platform does not offer${platform.whyNot?.[c] ? `: ${platform.whyNot[c]}` : ""}`);
    }
    for (const c of needs.stack ?? []) {
      if (!stack.capabilities.has(c)) out.push(`the ${f.kind} fault (${needs.what}) needs "${c}", which ${stack.name} does not have${stack.whyNot?.[c] ? `: ${stack.whyNot[c]}` : ""}`);
    }
  }
  return [...new Set(out)];
}

/** Refuses, before anything is deployed, a scenario whose faults the platform or the stack cannot do. */
export function assertCapable(scenario: string, faults: readonly FaultSpec[], platform: CapabilityHolder<PlatformCapability>, stack: CapabilityHolder<StackCapability>): void {
  const missing = unsupported(faults, platform, stack);
  if (missing.length > 0) {
    throw new UsageError(`scenario ${scenario} cannot run on the ${platform.name} platform with ${stack.name}:\n  ${missing.join("\n  ")}\nPick another platform or stack (npm run scenario -- --list-stacks), or another scenario.`);
  }
}

export const ALL_PLATFORM_CAPABILITIES: ReadonlySet<PlatformCapability> = new Set<PlatformCapability>([
  "kill", "graceful-stop", "pause", "process-kill", "partition", "link-down", "packet-loss", "latency", "node-failure", "node-drain", "dcs-members", "backup",
]);
