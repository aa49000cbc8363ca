import type { ClusterSampleValue, FaultEventValue, HistoryEntry } from "../history/types.ts";
import type { Checker, CheckResult } from "./types.ts";

export interface MemberLag {
  name: string;
  role: string;
  /** Bytes behind the leader; undefined where Patroni did not know. */
  lagBytes?: number;
  timeline?: number;
  /** lagBytes <= the bound; only with a bound and a known lag. */
  withinBound?: boolean;
}

function isInject(e: HistoryEntry): boolean {
  return e.f === "fault" && typeof e.value === "object" && e.value !== null && (e.value as Partial<FaultEventValue>).phase === "inject";
}

function sampleMembers(e: HistoryEntry): ClusterSampleValue["members"] {
  const members = (e.value as Partial<ClusterSampleValue> | undefined)?.members;
  const ok =
    Array.isArray(members) &&
    members.every(
      (m) =>
        typeof m === "object" && m !== null && typeof m.name === "string" && typeof m.role === "string" &&
        (m.lagBytes === undefined || (typeof m.lagBytes === "number" && Number.isFinite(m.lagBytes))) &&
        (m.timeline === undefined || typeof m.timeline === "number"),
    );
  if (!ok) throw new Error(`history entry ${e.index} (cluster sample) has value ${JSON.stringify(e.value)}, expected { members: [{ name, role, lagBytes?, timeline? }] }`);
  return members;
}

/**
 * Replication lag just before the fault, from the last cluster sample before the first fault inject (the
 * last sample of the run when it has no fault), with the bound the profile promises
 * (expect.maximumLagOnFailover, Patroni's maximum_lag_on_failover): a replica further behind than that
 * is not a failover candidate. Informational: valid is true whenever there is a sample; withinBound says
 * whether every replica with a known lag was within the bound.
 */
export const lag: Checker = ({ history, expect }) => {
  const injectAt = history.findIndex(isInject);
  const before = injectAt < 0 ? history : history.slice(0, injectAt);
  const sample = before.findLast((e) => e.f === "cluster");
  const bound = typeof expect.maximumLagOnFailover === "number" ? expect.maximumLagOnFailover : undefined;
  const faultAt = injectAt < 0 ? undefined : history[injectAt]!.time;
  if (!sample) {
    const where = injectAt < 0 ? "in the history" : "before the first fault";
    return { valid: "unknown", reasons: [`no cluster sample ${where}: replication lag is unknown`], faultAt, bound };
  }

  const sampled = sampleMembers(sample);
  if (sampled.length === 0) {
    return { valid: "unknown", reasons: ["the cluster sample before the fault lists no members (the member list could not be read)"], sampleAt: sample.time, faultAt, bound };
  }
  const members: MemberLag[] = sampled.map((m) => ({
    name: m.name,
    role: m.role,
    lagBytes: m.lagBytes,
    timeline: m.timeline,
    ...(bound !== undefined && m.role !== "leader" && m.lagBytes !== undefined ? { withinBound: m.lagBytes <= bound } : {}),
  }));
  const known = members.filter((m) => m.role !== "leader" && m.lagBytes !== undefined).map((m) => m.lagBytes!);
  const maxLagBytes = known.length > 0 ? Math.max(...known) : undefined;
  const result: CheckResult = { valid: true, sampleAt: sample.time, faultAt, beforeFault: injectAt >= 0, maxLagBytes, members, bound };
  if (bound !== undefined && maxLagBytes !== undefined) result.withinBound = maxLagBytes <= bound;
  const unknown = members.filter((m) => m.role !== "leader" && m.lagBytes === undefined).map((m) => m.name);
  const notes: string[] = [];
  if (unknown.length > 0) notes.push(`lag of ${unknown.join(", ")} is unknown`);
  if (result.withinBound === false) {
    const over = members.filter((m) => m.withinBound === false).map((m) => `${m.name} (${m.lagBytes} bytes)`);
    notes.push(`${over.join(", ")} lagged more than maximum_lag_on_failover ${bound} bytes before the fault: not failover candidates`);
  }
  if (notes.length > 0) result.notes = notes;
  return result;
};
