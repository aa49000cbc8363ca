import type { FaultEventValue, HistoryEntry, NodeProbeValue } from "../history/types.ts";
import type { Checker, CheckResult } from "./types.ts";

function faultValue(e: HistoryEntry): FaultEventValue | undefined {
  if (e.f !== "fault" || typeof e.value !== "object" || e.value === null) return undefined;
  return e.value as FaultEventValue;
}

function probeState(e: HistoryEntry): NodeProbeValue["state"] | undefined {
  if (typeof e.value !== "object" || e.value === null) return undefined;
  return (e.value as Partial<NodeProbeValue>).state;
}

const byTime = (a: HistoryEntry, b: HistoryEntry) => a.time - b.time || a.index - b.index;

/** A gap between acknowledged writes this long is an outage worth listing (the probe writes every 10 ms). */
const OUTAGE_MS = 500;

/**
 * When did `node` become a writable primary after `start`? From the node probes when they say so, else from
 * the first write it acknowledged. If the primary stayed the same node, its writable probes before it went
 * down are not the recovery, so count only those after its first non-writable probe.
 */
function newPrimaryAt(history: readonly HistoryEntry[], start: number, node: string, sameNode: boolean) {
  const probes = history.filter((e) => e.f === "node-probe" && e.node === node && e.type !== "invoke" && e.time > start).sort(byTime);
  const writable = (e: HistoryEntry) => e.type === "ok" && probeState(e) === "writable";
  let from = 0;
  if (sameNode) {
    from = probes.findIndex((e) => !writable(e));
    if (from < 0) from = probes.length;
  }
  const probe = probes.slice(from).find(writable);
  if (probe) return { time: probe.time, source: "node-probe" as const };
  const write = history.filter((e) => e.f === "write" && e.type === "ok" && e.node === node && e.time > start).sort(byTime)[0];
  return write ? { time: write.time, source: "write" as const } : undefined;
}

export const failover: Checker = ({ history, expect }) => {
  // The first fault that disrupts anything: a backup (the disaster-recovery scenario's first step) takes nothing away.
  const injectAt = history.findIndex((e) => e.type === "info" && faultValue(e)?.phase === "inject" && faultValue(e)?.fault !== "backup");
  const inject = history[injectAt];
  if (!inject) return { valid: "unknown", reasons: ["no fault in history"] };
  const fault = faultValue(inject)!.fault;
  const start = inject.time;
  const heal = history.slice(injectAt + 1).find((e) => {
    const v = faultValue(e);
    return v?.phase === "heal" && v.fault === fault;
  });
  // An outage caused by healing (a partition's end can trigger an etcd election, a rejoin can demote
  // the primary) is part of the fault's effect: the window runs to the end of the history, not the heal.
  const end = history.reduce((t, e) => Math.max(t, e.time), heal?.time ?? start);
  const base = { fault, faultAt: start, healedAt: heal?.time };

  const oks = history.filter((e) => e.f === "write" && e.type === "ok").sort(byTime);
  const before = oks.filter((e) => e.time <= start);
  const lastBefore = before[before.length - 1];
  if (!lastBefore) return { valid: "unknown", reasons: ["no acknowledged write before the fault"], ...base };

  const outcomesIn = (from: number, to: number, toInclusive = false) => {
    const inGap = history.filter((e) => e.f === "write" && e.time > from && (e.time < to || (toInclusive && e.time === to)));
    return {
      failedWrites: inGap.filter((e) => e.type === "fail").length,
      indeterminateWrites: inGap.filter((e) => e.type === "info").length,
    };
  };

  // Writes must be acknowledged again after the fault ended: a history whose acknowledged writes stop
  // during the fault and never resume has not recovered, however short the gaps between earlier writes.
  const lastOk = oks[oks.length - 1]!;
  // Writes must be acknowledged again by the end: a history whose writes were still failing when it
  // ended has not recovered, however short the gaps between its earlier acknowledged writes.
  const completions = history.filter((e) => e.f === "write" && e.type !== "invoke").sort(byTime);
  const lastWrite = completions[completions.length - 1];
  if (!oks.some((e) => e.time > start) || (lastWrite !== undefined && lastWrite.type !== "ok" && lastWrite.time > start)) {
    // The unavailability runs from the last acknowledged write (before the fault, or during it when
    // writes went on for a while) to the end of the history.
    const from = lastOk.time > start ? lastOk : lastBefore;
    const last = history.reduce((a, b) => (b.time > a.time ? b : a));
    return {
      valid: false,
      reasons: [`writes never recovered after the fault: no write was acknowledged after ${from === lastBefore ? "the fault began" : "the last acknowledged one"}, and writes were still failing when the run ended`],
      ...base,
      writeUnavailableMs: Math.round(last.time - from.time),
      windowStart: from.time,
      windowEnd: last.time,
      oldPrimary: lastBefore.node,
      newPrimary: undefined,
      ...outcomesIn(from.time, last.time, true),
    };
  }

  // The longest gap between acknowledged writes that overlaps the fault window. The gap straddling the
  // fault start always qualifies, even when the fault healed at the instant it was injected.
  let gap: [HistoryEntry, HistoryEntry] | undefined;
  for (let i = 1; i < oks.length; i++) {
    const prev = oks[i - 1]!;
    const next = oks[i]!;
    if (!(next.time > start && (prev.time < end || prev.time <= start))) continue;
    if (!gap || next.time - prev.time > gap[1].time - gap[0].time) gap = [prev, next];
  }
  const [prev, next] = gap!;
  // Every outage, not only the longest: a second one after the heal must not hide behind the first.
  const outages = oks
    .slice(1)
    .map((n, i) => [oks[i]!, n] as const)
    .filter(([p, n]) => n.time > start && n.time - p.time >= OUTAGE_MS)
    .map(([p, n]) => ({ from: p.time, to: n.time, ms: Math.round(n.time - p.time), before: p.node, after: n.node }));
  const writeUnavailableMs = Math.round(next.time - prev.time);
  const oldPrimary = prev.node;
  const newPrimary = next.node;
  const promoted = newPrimary === undefined ? undefined : newPrimaryAt(history, start, newPrimary, newPrimary === oldPrimary);

  const result: CheckResult = {
    valid: true,
    ...base,
    writeUnavailableMs,
    windowStart: prev.time,
    windowEnd: next.time,
    oldPrimary,
    newPrimary,
    primaryChanged: oldPrimary !== newPrimary,
    outages,
    timeToNewPrimaryMs: promoted && Math.round(promoted.time - start),
    timeToNewPrimarySource: promoted?.source,
    ...outcomesIn(prev.time, next.time),
  };
  const bound = expect.maxWriteUnavailableMs;
  if (typeof bound === "number" && writeUnavailableMs > bound) {
    result.valid = false;
    result.reasons = [`writes were unavailable for ${writeUnavailableMs} ms, more than maxWriteUnavailableMs ${bound} ms`];
  }
  return result;
};
