import type { HistoryEntry, NodeProbeValue } from "../history/types.ts";
import type { Checker, CheckResult, Validity } from "./types.ts";

/**
 * Split-brain: two nodes accepting writes at the same moment, judged from the direct per-node probes.
 *
 * A probe write proves its node writable at one instant somewhere in [invoke, ok], no more. For each
 * node, its node-probe completions (ok, fail and info, in time order) are split into maximal runs of
 * consecutive ok-writable ones. Over a run the node is CERTAINLY writable during
 * [ok time of its first write, invoke time of its last write]: the first write happened no later than its
 * ok, the last no earlier than its invoke, and no probe in between saw anything else. That period is
 * empty for a one-write run. A failed, read-only or indeterminate (info) probe ends a run, so nothing is
 * assumed across it. The one assumption: a node is not demoted and promoted again between two consecutive
 * writable probes, i.e. within one probe interval.
 *
 * Any overlap longer than 0 ms between the certain periods of two different nodes is a split-brain
 * window. A handover where the old primary's last write was invoked before the new one's first write
 * completed is not one: nothing proves the two were writable at the same instant.
 *
 * One more case is certain although its period is empty: a run of a single write whose whole
 * [invoke, ok] lies inside another node's certain period. Whatever instant that write took effect, the
 * other node was writable then. It is reported as an instant window (instant: true, ms 0, start and
 * end the write's invoke and ok), and fails the verdict like any other window.
 *
 * Writes through the primary service (f "write", ok, with the serving node) are evidence only: each
 * window lists the probe seqs and the service write ids each of its nodes acknowledged with an invoke or
 * a completion inside the window. They do not create windows; a node the service can write to is also
 * reached by its own probe.
 */

const SHOWN = 50;

interface Ack {
  node: string;
  invokeAt?: number;
  okAt: number;
  /** Probe seq, or service write id. */
  id?: number;
  timeline?: number;
}

interface Completion {
  node: string;
  time: number;
  writable?: Ack;
}

interface Period {
  node: string;
  start: number;
  end: number;
}

/** A write of a run whose certain period is empty: writable at one unknown instant in [invokeAt, okAt]. */
interface Instant {
  node: string;
  invokeAt: number;
  okAt: number;
}

export interface SplitBrainWindow {
  nodes: [string, string];
  start: number;
  end: number;
  /** Certain overlap in ms; 0 for an instant window. */
  ms: number;
  /** Both nodes were writable at one instant between start and end (a one-write run inside the other's period). */
  instant?: true;
  /** Per node: what it acknowledged inside the window (ids capped at 50; the counts are complete). */
  writes: Record<string, { probeSeqs: number[]; serviceIds: number[]; probeCount: number; serviceCount: number; timelines: number[] }>;
}

const byTime = (a: HistoryEntry, b: HistoryEntry) => a.time - b.time || a.index - b.index;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

function probeNode(e: HistoryEntry): string {
  const node = e.node ?? (e.process.startsWith("probe-") ? e.process.slice("probe-".length) : undefined);
  if (!node) throw new Error(`history entry ${e.index} (node-probe ${e.type}) names no node (process "${e.process}")`);
  return node;
}

/** Pairs each node-probe completion with its invoke (by seq when both carry one, else the oldest pending). */
function probeCompletions(history: readonly HistoryEntry[]): Map<string, Completion[]> {
  const pending = new Map<string, Array<{ seq?: number; time: number }>>();
  const out = new Map<string, Completion[]>();
  for (const e of history.filter((x) => x.f === "node-probe").sort(byTime)) {
    const queue = pending.get(e.process) ?? [];
    pending.set(e.process, queue);
    if (e.type === "invoke") {
      queue.push({ seq: num(e.value), time: e.time });
      continue;
    }
    const node = probeNode(e);
    const value = isObject(e.value) ? (e.value as Partial<NodeProbeValue> & { seq?: unknown }) : {};
    const seq = num(value.seq);
    let at = seq === undefined ? -1 : queue.findIndex((p) => p.seq === seq);
    if (at < 0 && queue.length > 0) at = 0;
    const invoke = at >= 0 ? queue.splice(at, 1)[0] : undefined;
    const c: Completion = { node, time: e.time };
    if (e.type === "ok" && value.state === "writable") {
      c.writable = { node, invokeAt: invoke?.time, okAt: e.time, id: seq ?? invoke?.seq, timeline: num(value.timeline) };
    }
    const list = out.get(node) ?? [];
    out.set(node, list);
    list.push(c);
  }
  return out;
}

/** Acknowledged writes through the primary service, with their invoke time where the history has it. */
function serviceAcks(history: readonly HistoryEntry[]): Ack[] {
  const invoked = new Map<number, number>();
  const acks: Ack[] = [];
  for (const e of [...history].sort(byTime)) {
    if (e.f !== "write") continue;
    const id = num(e.value);
    if (id === undefined) continue;
    if (e.type === "invoke") {
      if (!invoked.has(id)) invoked.set(id, e.time);
    } else if (e.type === "ok" && e.node !== undefined) {
      acks.push({ node: e.node, invokeAt: invoked.get(id), okAt: e.time, id, timeline: num(e.timeline) });
    }
  }
  return acks;
}

/**
 * Certain writable periods of each run of consecutive writable probes. A run whose period is empty gives
 * its writes as instants instead (a single write; with overlapping probes, possibly more).
 */
function certainPeriods(completions: Map<string, Completion[]>): { periods: Period[]; instants: Instant[] } {
  const periods: Period[] = [];
  const instants: Instant[] = [];
  for (const [node, list] of completions) {
    let run: Ack[] = [];
    const close = () => {
      if (run.length === 0) return;
      // [min ok, max invoke] also holds when probes overlap: the earliest write took effect no later than
      // the earliest ok, the latest no earlier than the latest invoke.
      const start = Math.min(...run.map((a) => a.okAt));
      const invokes = run.map((a) => a.invokeAt).filter((t): t is number => t !== undefined);
      const end = invokes.length > 0 ? Math.max(...invokes) : -Infinity;
      if (end > start) periods.push({ node, start, end });
      else for (const a of run) if (a.invokeAt !== undefined) instants.push({ node, invokeAt: a.invokeAt, okAt: a.okAt });
      run = [];
    };
    for (const c of list) {
      if (c.writable) run.push(c.writable);
      else close();
    }
    close();
  }
  return { periods, instants };
}

/** Total length of the union of [start, end] intervals. */
function unionMs(intervals: Array<{ start: number; end: number }>): number {
  let total = 0;
  let cur: { start: number; end: number } | undefined;
  for (const i of [...intervals].sort((a, b) => a.start - b.start)) {
    if (cur && i.start <= cur.end) cur.end = Math.max(cur.end, i.end);
    else {
      if (cur) total += cur.end - cur.start;
      cur = { ...i };
    }
  }
  return cur ? total + cur.end - cur.start : total;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** "3 probe writes (seqs 4, 5, 6)", "no service writes", "80 ... (seqs 1, 2, ..., first 20 of 80)". */
function describeList(label: string, xs: number[], total: number, idName: string): string {
  if (total === 0) return `no ${label}s`;
  const shown = xs.slice(0, 20);
  const more = total > shown.length ? `, ... first ${shown.length} of ${total}` : "";
  return `${total} ${label}${total === 1 ? "" : "s"}${shown.length > 0 ? ` (${idName} ${shown.join(", ")}${more})` : ""}`;
}

export const splitBrain: Checker = ({ history, expect }) => {
  if (!history.some((e) => e.f === "node-probe")) return { valid: "unknown", reasons: ["no node probes in the history: split-brain cannot be judged"] };
  const completions = probeCompletions(history);
  const probeAcks = [...completions.values()].flat().flatMap((c) => (c.writable ? [c.writable] : []));
  const writableNodesAtEnd = [...completions]
    .filter(([, list]) => list[list.length - 1]?.writable !== undefined)
    .map(([node]) => node)
    .sort();
  if (probeAcks.length === 0) {
    return {
      valid: "unknown",
      reasons: ["no node probe ever found a writable node: the probes saw no primary at all, so they cannot tell whether two existed"],
      windows: [],
      maxWindowMs: 0,
      totalWindowMs: 0,
      writableNodesAtEnd,
    };
  }

  const { periods, instants } = certainPeriods(completions);
  const service = serviceAcks(history);
  const windows: SplitBrainWindow[] = [];
  const addWindow = (x: string, y: string, start: number, end: number, instant: boolean) => {
    const nodes = [x, y].sort() as [string, string];
    const inside = (w: Ack) => (w.invokeAt !== undefined && w.invokeAt >= start && w.invokeAt <= end) || (w.okAt >= start && w.okAt <= end);
    const writes: SplitBrainWindow["writes"] = {};
    for (const node of nodes) {
      const probes = probeAcks.filter((x) => x.node === node && inside(x));
      const services = service.filter((x) => x.node === node && inside(x));
      writes[node] = {
        probeSeqs: probes.flatMap((x) => (x.id === undefined ? [] : [x.id])).slice(0, SHOWN),
        serviceIds: services.map((x) => x.id!).slice(0, SHOWN),
        probeCount: probes.length,
        serviceCount: services.length,
        timelines: [...new Set([...probes, ...services].flatMap((x) => (x.timeline === undefined ? [] : [x.timeline])))].sort((p, q) => p - q),
      };
    }
    windows.push({ nodes, start, end, ms: instant ? 0 : round(end - start), ...(instant ? { instant: true as const } : {}), writes });
  };
  for (let i = 0; i < periods.length; i++) {
    for (let j = i + 1; j < periods.length; j++) {
      const a = periods[i]!;
      const b = periods[j]!;
      const start = Math.max(a.start, b.start);
      const end = Math.min(a.end, b.end);
      if (a.node !== b.node && end > start) addWindow(a.node, b.node, start, end, false);
    }
  }
  for (const w of instants) {
    for (const p of periods) {
      if (p.node !== w.node && p.start <= w.invokeAt && w.okAt <= p.end) addWindow(w.node, p.node, w.invokeAt, w.okAt, true);
    }
  }
  windows.sort((a, b) => a.start - b.start || a.nodes.join().localeCompare(b.nodes.join()));

  const reasons = windows.map((w) => {
    const evidence = w.nodes.map((n) => {
      const x = w.writes[n]!;
      const tl = x.timelines.length > 0 ? ` on timeline ${x.timelines.join(", ")}` : "";
      return `${n}${tl} acknowledged ${describeList("probe write", x.probeSeqs, x.probeCount, "seqs")} and ${describeList("service write", x.serviceIds, x.serviceCount, "ids")}`;
    });
    const span = `${new Date(w.start).toISOString()} to ${new Date(w.end).toISOString()}`;
    const how = w.instant ? `at one instant between ${span} (a single write of one ran inside the other's writable period)` : `for ${w.ms} ms, from ${span}`;
    return `split-brain: ${w.nodes[0]} and ${w.nodes[1]} were both writable ${how}; ${evidence.join("; ")}`;
  });

  const expected = expect.splitBrain === true;
  const valid: Validity = windows.length > 0 && !expected ? false : true;
  const result: CheckResult = {
    valid,
    windows,
    maxWindowMs: Math.max(0, ...windows.map((w) => w.ms)),
    totalWindowMs: round(unionMs(windows.filter((w) => !w.instant))),
    writableNodesAtEnd,
  };
  if (reasons.length > 0) result.reasons = reasons;
  if (expected) result.splitBrainExpected = true;
  return result;
};
