import type { HistoryEntry } from "../history/types.ts";
import { finalLeader } from "./final.ts";
import { describeIds, rangesToSet } from "./ranges.ts";
import type { CheckInput, CheckResult, IdRanges } from "./types.ts";

/**
 * Checks of a disaster recovery (the disaster fault, faults/backup.ts): every member's data was destroyed, the cluster
 * was bootstrapped again from the repository (latest backup and the whole archive), and the repository was restored to
 * a point in time beside it. Their rules:
 *
 * - Recovery point: what the restore brought back must be everything acknowledged up to some write (the recovery
 *   point) and nothing of what follows it: the WAL of a committed write holds every commit acknowledged before that
 *   write began. Acknowledged writes missing after the recovery point are the price of archiving by segment; the restore
 *   must have replayed the archive up to its last segment, and the time they span may be bounded.
 * - Point in time: the restore to a target time holds every write acknowledged by then, and none begun after it.
 */

/** A restore as the nemesis recorded it. */
export interface RestoreValue {
  kind: "latest" | "point-in-time";
  /** For the latest restore: "start" before the members start, "ready" once the cluster is whole. */
  phase?: "start" | "ready";
  leader?: string;
  ms?: number;
  /** For the point-in-time restore: the target (epoch ms, the history's clock) and the ids it held. */
  target?: number;
  ids?: IdRanges;
  /** Why the point-in-time restore failed, where it did. */
  error?: string;
  /** The wall clock minus the history's clock when the target was chosen (ms): PostgreSQL got the target on the wall clock. */
  clockOffsetMs?: number;
}

/**
 * The history's times and PostgreSQL's commit timestamps are read from two clocks of this machine, whose difference is
 * recorded when the target is chosen and may drift a little since: writes this close to the target (plus that
 * difference) are not judged.
 */
export const CLOCK_TOLERANCE_MS = 5;

const WAL_SEGMENT_BYTES = 16n * 1024n * 1024n;

interface WriteTimes {
  invokeAt: number;
  ackAt?: number;
  timeline?: number;
}

function writeTimes(history: readonly HistoryEntry[]): Map<number, WriteTimes> {
  const m = new Map<number, WriteTimes>();
  for (const e of history) {
    if (e.f !== "write" || typeof e.value !== "number") continue;
    if (e.type === "invoke") m.set(e.value, { invokeAt: e.time });
    else if (e.type === "ok") {
      const w = m.get(e.value);
      if (w) Object.assign(w, { ackAt: e.time, timeline: e.timeline });
    }
  }
  return m;
}

function restoreEntries(history: readonly HistoryEntry[]) {
  const all = history.filter((e) => e.f === "restore").map((e) => ({ time: e.time, v: e.value as RestoreValue }));
  return {
    start: all.find((r) => r.v.kind === "latest" && r.v.phase === "start"),
    ready: all.find((r) => r.v.kind === "latest" && r.v.phase === "ready"),
    pointInTime: all.filter((r) => r.v.kind === "point-in-time"),
  };
}

/** Whether the history holds a restore, so that the restore checks apply. */
export function hasRestore(history: readonly HistoryEntry[]): boolean {
  return history.some((e) => e.f === "restore");
}

export interface RecoveryPoint {
  /** When the restore began: writes invoked before it are the ones the disaster could take. */
  restoreAt: number;
  /** The last write acknowledged before the disaster that the restore brought back (undefined: none came back). */
  point?: { id: number } & WriteTimes;
  /** The last write acknowledged before the disaster. */
  lastAcknowledged?: { id: number } & WriteTimes;
  /** Acknowledged before the disaster and missing, after the recovery point: the restore's loss. */
  lostAfter: number[];
  /** Acknowledged before the recovery point began and missing: a restore that is not what was acknowledged. */
  holes: number[];
  /** Time of acknowledged writes lost: from the recovery point's acknowledgement to the last one before the disaster. */
  recoveryPointMs?: number;
}

/**
 * The recovery point of the restore in the history (a scenario has one disaster), against `present` (the ids the
 * restored cluster holds); undefined when the history has no restore. Write ids increase with time (one write at a time).
 */
export function recoveryPointOf(history: readonly HistoryEntry[], present: ReadonlySet<number>): RecoveryPoint | undefined {
  const { start } = restoreEntries(history);
  if (!start) return undefined;
  const times = writeTimes(history);
  // Acknowledged before the restore began: a write acknowledged later was served by the restored cluster.
  const before = [...times.entries()].filter(([, w]) => w.ackAt !== undefined && w.ackAt < start.time).sort((a, b) => a[0] - b[0]);
  const kept = before.filter(([id]) => present.has(id));
  const pointEntry = kept.at(-1);
  const lastEntry = before.at(-1);
  const point = pointEntry ? { id: pointEntry[0], ...pointEntry[1] } : undefined;
  const lastAcknowledged = lastEntry ? { id: lastEntry[0], ...lastEntry[1] } : undefined;
  const missing = before.filter(([id]) => !present.has(id));
  // Acknowledged before the recovery point's write began: committed before it, so in the WAL before it.
  const isHole = ([, w]: [number, WriteTimes]) => point !== undefined && w.ackAt! <= point.invokeAt;
  return {
    restoreAt: start.time,
    point,
    lastAcknowledged,
    lostAfter: missing.filter((x) => !isHole(x)).map(([id]) => id),
    holes: missing.filter(isHole).map(([id]) => id),
    recoveryPointMs: point && lastAcknowledged ? Math.round(lastAcknowledged.ackAt! - point.ackAt!) : undefined,
  };
}

/** `0/5000108` as a number. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]+)\/([0-9A-Fa-f]+)$/.exec(lsn.trim());
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Where a WAL segment (`000000010000000000000005`, 16 MB segments) starts, and its timeline. */
export function segmentStart(name: string): { timeline: number; lsn: bigint } {
  if (!/^[0-9A-F]{24}$/.test(name)) throw new Error(`not a WAL segment name: ${JSON.stringify(name)}`);
  const timeline = parseInt(name.slice(0, 8), 16);
  const log = BigInt(`0x${name.slice(8, 16)}`);
  const seg = BigInt(`0x${name.slice(16, 24)}`);
  return { timeline, lsn: (log << 32n) + seg * WAL_SEGMENT_BYTES };
}

const formatLsn = (x: bigint) => `${(x >> 32n).toString(16).toUpperCase()}/${(x & 0xffffffffn).toString(16).toUpperCase()}`;

/** The LSN where `parent` was left for a new timeline, from a timeline history file's lines ("1\t0/5000108\treason"). */
export function switchPoint(timelineHistory: string, parent: number): bigint | undefined {
  for (const line of timelineHistory.split("\n")) {
    const [tli, lsn] = line.trim().split(/\s+/);
    if (tli !== undefined && lsn !== undefined && Number(tli) === parent) return parseLsn(lsn);
  }
  return undefined;
}

export function recoveryPoint({ history, final, expect }: CheckInput): CheckResult {
  const found = finalLeader(final);
  if ("reason" in found) return { valid: "unknown", reasons: [`${found.reason}: cannot tell what the restore brought back`] };
  const rp = recoveryPointOf(history, rangesToSet(found.leader.ids));
  if (!rp) return { valid: "unknown", reasons: ["no restore in the history"] };
  const { ready } = restoreEntries(history);
  const disaster = history.find((e) => e.f === "disaster")?.value as { archiveEnd?: string } | undefined;
  const backup = history.filter((e) => e.f === "backup").at(-1)?.value as Record<string, unknown> | undefined;
  const firstWrite = history.find((e) => e.f === "write" && e.type === "ok" && e.time > rp.restoreAt);
  const result: CheckResult = {
    valid: true,
    recoveryPointMs: rp.recoveryPointMs,
    recoveryPointId: rp.point?.id,
    lastAcknowledgedId: rp.lastAcknowledged?.id,
    lostAfterRecoveryPoint: rp.lostAfter.length,
    holes: rp.holes,
    archiveEnd: disaster?.archiveEnd,
    // Restore time: from the members' start on the repository to a cluster whole again, and to the first write a client got acknowledged.
    restoreReadyMs: ready ? (ready.v.ms ?? Math.round(ready.time - rp.restoreAt)) : undefined,
    restoreMs: firstWrite ? Math.round(firstWrite.time - rp.restoreAt) : undefined,
    backup,
  };
  const reasons: string[] = [];
  let unknown: string | undefined;
  if (!rp.point) reasons.push("no write acknowledged before the disaster came back: the restore lost everything");
  if (rp.holes.length > 0) {
    reasons.push(`${rp.holes.length} writes acknowledged before the recovery point (write ${rp.point!.id}) are missing: the restore is not what was acknowledged up to it: ${describeIds(rp.holes)}`);
  }
  if (expect.maxRecoveryPointMs !== undefined && rp.recoveryPointMs !== undefined && rp.recoveryPointMs > expect.maxRecoveryPointMs) {
    reasons.push(`the restore lost ${rp.recoveryPointMs} ms of acknowledged writes (${rp.lostAfter.length} writes after write ${rp.point!.id}), more than the ${expect.maxRecoveryPointMs} ms allowed`);
  }
  // Against the archive's last segment: recovery must have replayed into it. The restored leader's timeline history says
  // where it left the timeline the writes were on before the disaster.
  const timeline = rp.lastAcknowledged?.timeline;
  const seg = disaster?.archiveEnd ? segmentStart(disaster.archiveEnd) : undefined;
  if (!disaster?.archiveEnd || !seg) {
    reasons.push("the archive held no WAL segment after the disaster: nothing was archived");
  } else if (timeline === undefined || found.leader.timelineHistory === undefined) {
    unknown = "the restored leader's timeline history or the disaster's timeline is unknown: cannot tell where recovery ended";
  } else if (seg.timeline !== timeline) {
    unknown = `the archive's last segment ${disaster.archiveEnd} is on timeline ${seg.timeline}, the last write before the disaster on timeline ${timeline}: cannot tell where recovery ended`;
  } else {
    const end = switchPoint(found.leader.timelineHistory, timeline);
    if (end === undefined) {
      unknown = `the restored leader's timeline history has no line for timeline ${timeline}: cannot tell where recovery ended`;
    } else {
      result.restoredToLsn = formatLsn(end);
      if (end < seg.lsn) {
        reasons.push(`recovery ended at ${formatLsn(end)}, before the archive's last segment ${disaster.archiveEnd} (which starts at ${formatLsn(seg.lsn)}): archived WAL was not replayed`);
      }
    }
  }
  if (reasons.length > 0) return { ...result, valid: false, reasons };
  if (unknown) return { ...result, valid: "unknown", reasons: [unknown] };
  return result;
}

export function pointInTime({ history }: CheckInput): CheckResult {
  const { pointInTime: restores } = restoreEntries(history);
  const last = restores.at(-1);
  if (last?.v.error !== undefined) return { valid: false, reasons: [`the point-in-time restore failed: ${last.v.error}`] };
  if (!last || last.v.target === undefined || !last.v.ids) return { valid: "unknown", reasons: ["no point-in-time restore was recorded (it did not run)"] };
  const target = last.v.target;
  const tolerance = Math.round((CLOCK_TOLERANCE_MS + Math.abs(last.v.clockOffsetMs ?? 0)) * 1000) / 1000;
  const present = rangesToSet(last.v.ids);
  const times = writeTimes(history);
  const missing: number[] = [];
  const beyond: number[] = [];
  let chosen: ({ id: number } & WriteTimes) | undefined;
  let undecided = 0;
  for (const [id, w] of [...times.entries()].sort((a, b) => a[0] - b[0])) {
    const near = Math.abs(w.invokeAt - target) <= tolerance || (w.ackAt !== undefined && Math.abs(w.ackAt - target) <= tolerance);
    if (near) {
      undecided++;
      continue;
    }
    if (w.ackAt !== undefined && w.ackAt < target) {
      chosen = { id, ...w };
      if (!present.has(id)) missing.push(id);
    } else if (w.invokeAt > target && present.has(id)) {
      beyond.push(id);
    }
  }
  const result: CheckResult = {
    valid: true,
    target: new Date(target).toISOString(),
    targetWrite: chosen?.id,
    targetWriteAcknowledgedMsBefore: chosen ? Math.round(target - chosen.ackAt!) : undefined,
    rows: present.size,
    undecided,
    toleranceMs: tolerance,
    ms: last.v.ms,
  };
  const reasons: string[] = [];
  if (missing.length > 0) reasons.push(`${missing.length} writes acknowledged before the target ${result.target} are missing from the restore to it: ${describeIds(missing)}`);
  if (beyond.length > 0) reasons.push(`${beyond.length} writes begun after the target ${result.target} are in the restore to it: ${describeIds(beyond)}`);
  return reasons.length > 0 ? { ...result, valid: false, reasons } : result;
}
