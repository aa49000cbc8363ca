import type { FaultEventValue, HistoryEntry, NodeProbeState } from "../history/types.ts";

/** What the timeline chart shows, computed from the history alone. Times are ms since `t0`. */
export interface TimelineModel {
  /** Epoch ms of the chart's left edge: the first probe operation (or first entry). */
  t0: number;
  /** Length of the chart in ms. */
  spanMs: number;
  bucketMs: number;
  nodes: string[];
  /** Acknowledged writes per bucket, per serving node. */
  acked: Array<Record<string, number>>;
  failed: number[];
  indeterminate: number[];
  totals: { ok: number; fail: number; info: number };
  faults: Array<{ from: number; to: number; label: string; healed: boolean }>;
  primaryChanges: Array<{ at: number; from: string; to: string }>;
  timelineSwitches: Array<{ at: number; from: number; to: number }>;
  /** Node-probe states per node as contiguous segments. */
  probes: Record<string, Array<{ from: number; to: number; state: NodeProbeState }>>;
  phases: Array<{ from: number; to: number; name: string }>;
  /** The failover checker's window of unavailability, if it found one. */
  unavailable?: { from: number; to: number };
}

export const BUCKET_MS = 100;
/** Above this many buckets, buckets widen (by whole 100 ms steps) so a long run stays drawable. */
const MAX_BUCKETS = 3000;

const byTime = (a: HistoryEntry, b: HistoryEntry) => a.time - b.time || a.index - b.index;

/** Natural order, so n2 comes before n10. */
export const nodeOrder = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });

function probeState(e: HistoryEntry): NodeProbeState {
  const v = e.value as { state?: unknown } | undefined;
  const s = typeof v === "object" && v !== null ? v.state : undefined;
  if (s === "writable" || s === "read-only" || s === "unreachable") return s;
  return e.type === "ok" ? "writable" : "unreachable";
}

function faultLabel(v: FaultEventValue): string {
  const nodes = Array.isArray(v.nodes) && v.nodes.length > 0 ? `: ${v.nodes.join(", ")}` : "";
  return `${v.fault}${v.target ? ` ${v.target}` : ""}${nodes}`;
}

export function timelineModel(history: readonly HistoryEntry[], window?: { from?: number; to?: number }): TimelineModel {
  const h = [...history].sort(byTime);
  const ops = h.filter((e) => e.f === "write" || e.f === "node-probe");
  const t0 = (ops[0] ?? h[0])?.time ?? 0;
  const tEnd = Math.max(t0, ...(ops.length ? [ops[ops.length - 1]!.time] : h.map((e) => e.time)));
  const spanMs = Math.max(1, tEnd - t0);
  const bucketMs = Math.max(BUCKET_MS, Math.ceil(spanMs / MAX_BUCKETS / BUCKET_MS) * BUCKET_MS);
  const n = Math.floor(spanMs / bucketMs) + 1;
  const rel = (t: number) => t - t0;
  const bucketOf = (t: number) => Math.min(n - 1, Math.max(0, Math.floor(rel(t) / bucketMs)));

  const nodes = new Set<string>();
  const acked: Array<Record<string, number>> = Array.from({ length: n }, () => ({}));
  const failed = new Array<number>(n).fill(0);
  const indeterminate = new Array<number>(n).fill(0);
  const totals = { ok: 0, fail: 0, info: 0 };
  const primaryChanges: TimelineModel["primaryChanges"] = [];
  const timelineSwitches: TimelineModel["timelineSwitches"] = [];
  let primary: string | undefined;
  let timeline: number | undefined;

  for (const e of h) {
    if (e.f !== "write" || e.type === "invoke") continue;
    const b = bucketOf(e.time);
    if (e.type === "ok") {
      const node = e.node ?? "?";
      nodes.add(node);
      acked[b]![node] = (acked[b]![node] ?? 0) + 1;
      totals.ok++;
      if (primary !== undefined && node !== primary) primaryChanges.push({ at: rel(e.time), from: primary, to: node });
      primary = node;
      if (typeof e.timeline === "number") {
        if (timeline !== undefined && e.timeline !== timeline) timelineSwitches.push({ at: rel(e.time), from: timeline, to: e.timeline });
        timeline = e.timeline;
      }
    } else if (e.type === "fail") {
      failed[b]!++;
      totals.fail++;
    } else {
      indeterminate[b]!++;
      totals.info++;
    }
  }

  const probes: TimelineModel["probes"] = {};
  for (const e of h) {
    if (e.f !== "node-probe" || e.type === "invoke" || e.node === undefined) continue;
    nodes.add(e.node);
    const segs = (probes[e.node] ??= []);
    const state = probeState(e);
    const at = rel(e.time);
    const last = segs[segs.length - 1];
    if (last) last.to = at;
    if (last?.state === state) continue;
    segs.push({ from: at, to: at, state });
  }
  for (const segs of Object.values(probes)) {
    const last = segs[segs.length - 1];
    if (last) last.to = spanMs;
  }

  const faults: TimelineModel["faults"] = [];
  const open: Array<{ v: FaultEventValue; from: number }> = [];
  for (const e of h) {
    if (e.f !== "fault" || typeof e.value !== "object" || e.value === null) continue;
    const v = e.value as FaultEventValue;
    for (const node of Array.isArray(v.nodes) ? v.nodes : []) nodes.add(node);
    if (v.phase === "inject") open.push({ v, from: rel(e.time) });
    else if (v.phase === "heal") {
      const i = open.findIndex((o) => o.v.fault === v.fault && o.v.target === v.target);
      if (i < 0) continue; // a heal on abort for a fault never injected, or a second heal
      const [o] = open.splice(i, 1);
      faults.push({ from: o!.from, to: rel(e.time), label: faultLabel(o!.v), healed: true });
    }
  }
  for (const o of open) faults.push({ from: o.from, to: spanMs, label: `${faultLabel(o.v)} (never healed)`, healed: false });
  faults.sort((a, b) => a.from - b.from);

  const phaseEntries = h.filter((e) => e.f === "phase");
  const phases: TimelineModel["phases"] = [];
  phaseEntries.forEach((e, i) => {
    const name = String((e.value as { phase?: unknown } | undefined)?.phase ?? "?");
    const from = rel(e.time);
    const next = phaseEntries[i + 1];
    const to = next ? rel(next.time) : spanMs;
    if (to <= 0 || from >= spanMs) return; // entirely outside the chart (deploy, before the probes)
    phases.push({ from: Math.max(0, from), to: Math.min(spanMs, to), name });
  });

  const unavailable =
    window?.from !== undefined && window.to !== undefined && window.to >= window.from ? { from: rel(window.from), to: rel(window.to) } : undefined;

  return {
    t0,
    spanMs,
    bucketMs,
    nodes: [...nodes].sort(nodeOrder),
    acked,
    failed,
    indeterminate,
    totals,
    faults,
    primaryChanges,
    timelineSwitches,
    probes,
    phases,
    unavailable,
  };
}
