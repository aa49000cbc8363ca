import type { NodeProbeState } from "../history/types.ts";
import { esc } from "./escape.ts";
import type { TimelineModel } from "./timeline.ts";

/** Colour-blind-friendly node colours (Tableau 10 without its red and orange, kept for failures). */
const NODE_COLOURS = ["#4e79a7", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac", "#86bcb6"];
export const nodeColour = (i: number) => NODE_COLOURS[i % NODE_COLOURS.length]!;
export const FAILED_COLOUR = "#d62728";
export const UNKNOWN_COLOUR = "#f28e2b";
export const PROBE_COLOURS: Record<NodeProbeState, string> = { writable: "#2e7d32", "read-only": "#90a4ae", unreachable: "#b71c1c" };

const PHASE_Y = 6;
const PHASE_H = 16;
const LABEL_ROWS = 3;
const LABEL_Y = 38; // baseline of the first marker-label row
const LABEL_ROW_H = 15;
const CHART_TOP = LABEL_Y + LABEL_ROWS * LABEL_ROW_H;
const CHAR_W = 6.4; // rough width of one 11 px character, for placing labels

/** How a chart is drawn: the report's full-width chart by default, smaller ones for side-by-side comparisons. */
export interface TimelineSvgOptions {
  /** Width in SVG units (and in CSS pixels unless styled otherwise); default 1200. */
  width?: number;
  /** Height of the bar chart area; default 220. */
  chartHeight?: number;
  /** The svg element's id (default "timeline"); null for none, where several charts share a page. */
  id?: string | null;
  /** Extra class(es) on the svg element. */
  className?: string;
  /** Accessible name of the chart. */
  label?: string;
}

const f = (x: number) => (Math.round(x * 10) / 10).toString();
const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

function niceStep(spanMs: number, maxTicks = 14): number {
  const steps = [100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];
  return steps.find((s) => spanMs / s <= maxTicks) ?? 3_600_000;
}

function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

interface Label {
  x: number;
  text: string;
  cls: string;
  colour: string;
  title: string;
}

/** Puts each label in the marker row where it overlaps least, anchored left of its x near the right edge. */
function placeLabels(labels: Label[], plotRight: number): string[] {
  const rowEnds = new Array<number>(LABEL_ROWS).fill(-Infinity);
  const out: string[] = [];
  for (const l of [...labels].sort((a, b) => a.x - b.x)) {
    const width = l.text.length * CHAR_W;
    const anchorEnd = l.x + 4 + width > plotRight;
    const start = anchorEnd ? l.x - 4 - width : l.x + 4;
    let row = rowEnds.findIndex((end) => end + 6 <= start);
    if (row < 0) row = rowEnds.indexOf(Math.min(...rowEnds));
    rowEnds[row] = Math.max(rowEnds[row]!, start + width);
    const y = LABEL_Y + row * LABEL_ROW_H;
    out.push(
      `<text class="${l.cls}" x="${f(anchorEnd ? l.x - 4 : l.x + 4)}" y="${y}" text-anchor="${anchorEnd ? "end" : "start"}" fill="${l.colour}"><title>${esc(l.title)}</title>${esc(l.text)}</text>`,
    );
  }
  return out;
}

/** The timeline chart as one inline SVG element (no scripts, no external references). */
export function renderTimelineSvg(m: TimelineModel, opts: TimelineSvgOptions = {}): string {
  const W = opts.width ?? 1200;
  // A narrow chart keeps room for the row labels ("failed (920)") but gives the rest to the plot.
  const LEFT = W >= 800 ? 118 : 96;
  const RIGHT = W >= 800 ? 22 : 10;
  const PLOT_W = W - LEFT - RIGHT;
  const CHART_H = opts.chartHeight ?? 220;
  const CHART_BOTTOM = CHART_TOP + CHART_H;
  const x = (ms: number) => LEFT + (Math.min(Math.max(ms, 0), m.spanMs) / m.spanMs) * PLOT_W;
  const n = m.acked.length;
  const bw = PLOT_W / n;
  const totals = m.acked.map((b) => Object.values(b).reduce((s, c) => s + c, 0));
  const yMax = niceMax(Math.max(0, ...totals));
  const yScale = CHART_H / yMax;

  const axisY = CHART_BOTTOM;
  const tickLabelY = axisY + 15;
  const windowY = axisY + 32;
  const failY = axisY + 44;
  const rowH = 12;
  const unknownY = failY + rowH + 4;
  const probeY = unknownY + rowH + 14;
  const probeH = 14;
  const probeGap = 5;
  const probeNodes = m.nodes.filter((nd) => m.probes[nd]?.length);
  const height = probeY + probeNodes.length * (probeH + probeGap) + 10;
  const parts: string[] = [];

  // Phases strip: where the runner was, so a reader sees warm-up, fault, recovery and cool-down.
  m.phases.forEach((p, i) => {
    const x0 = x(p.from);
    const w = Math.max(0, x(p.to) - x0);
    parts.push(
      `<g class="phase"><title>${esc(`${p.name}: ${secs(p.from)} to ${secs(p.to)}`)}</title><rect x="${f(x0)}" y="${PHASE_Y}" width="${f(w)}" height="${PHASE_H}" fill="${i % 2 ? "#e4e9f0" : "#eef1f6"}"/>` +
        (w > p.name.length * 6 + 8 ? `<text x="${f(x0 + w / 2)}" y="${PHASE_Y + 12}" text-anchor="middle" class="phase-label">${esc(p.name)}</text>` : "") +
        `</g>`,
    );
  });

  // Fault windows, shaded over the whole height below the phases strip.
  const bottom = height - 6;
  for (const fw of m.faults) {
    const x0 = x(fw.from);
    const w = Math.max(2, x(fw.to) - x0);
    parts.push(
      `<rect class="fault-window" x="${f(x0)}" y="${PHASE_Y + PHASE_H + 4}" width="${f(w)}" height="${f(bottom - (PHASE_Y + PHASE_H + 4))}" fill="#f4a261" fill-opacity="0.18" stroke="#e76f51" stroke-opacity="0.6" stroke-dasharray="3 2"><title>${esc(`${fw.label}: injected at ${secs(fw.from)}, ${fw.healed ? `healed at ${secs(fw.to)}` : "never healed"}`)}</title></rect>`,
    );
  }

  // Grid and axes.
  const step = niceStep(m.spanMs, W >= 800 ? 14 : Math.max(3, Math.floor(PLOT_W / 60)));
  for (let t = 0; t <= m.spanMs; t += step) {
    const xt = x(t);
    parts.push(`<line x1="${f(xt)}" y1="${CHART_TOP}" x2="${f(xt)}" y2="${axisY}" class="grid"/>`);
    parts.push(`<text x="${f(xt)}" y="${tickLabelY}" text-anchor="middle" class="tick">${esc(`${(t / 1000).toString()} s`)}</text>`);
  }
  for (const v of [0, yMax / 2, yMax]) {
    const yv = axisY - v * yScale;
    parts.push(`<line x1="${LEFT}" y1="${f(yv)}" x2="${LEFT + PLOT_W}" y2="${f(yv)}" class="grid"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${f(yv + 4)}" text-anchor="end" class="tick">${esc(Number.isInteger(v) ? v : v.toFixed(1))}</text>`);
  }
  parts.push(
    `<text class="axis-title" transform="translate(${LEFT - 40} ${CHART_TOP + CHART_H / 2}) rotate(-90)" text-anchor="middle">${W >= 800 ? "acknowledged writes" : "acked"} / ${m.bucketMs} ms</text>`,
  );

  // Acknowledged writes, stacked per serving node: one path per node.
  const cum = new Array<number>(n).fill(0);
  m.nodes.forEach((node, ni) => {
    let d = "";
    let count = 0;
    // Neighbouring buckets of the same height and base are one rectangle: no anti-aliasing seams, less SVG.
    for (let i = 0; i < n; ) {
      const c = m.acked[i]![node] ?? 0;
      const base = cum[i]!;
      let j = i + 1;
      while (j < n && (m.acked[j]![node] ?? 0) === c && cum[j] === base) j++;
      if (c > 0) {
        const yTop = axisY - (base + c) * yScale;
        const w = (j - i) * bw + (j < n ? 0.3 : 0); // a hair of overlap with the next bar hides seams
        d += `M${f(LEFT + i * bw)} ${f(yTop)}h${f(w)}v${f(c * yScale)}h${f(-w)}z`;
        for (let k = i; k < j; k++) cum[k]! += c;
        count += c * (j - i);
      }
      i = j;
    }
    if (count > 0) {
      parts.push(`<path class="bars" data-node="${esc(node)}" d="${d}" fill="${nodeColour(ni)}"><title>${esc(`${node}: ${count} acknowledged writes`)}</title></path>`);
    }
  });
  parts.push(`<line x1="${LEFT}" y1="${axisY}" x2="${LEFT + PLOT_W}" y2="${axisY}" class="axis"/>`);
  parts.push(`<line x1="${LEFT}" y1="${CHART_TOP}" x2="${LEFT}" y2="${axisY}" class="axis"/>`);

  // The failover checker's window, as a bracket under the axis.
  if (m.unavailable) {
    const x0 = x(m.unavailable.from);
    const x1 = Math.max(x0 + 1, x(m.unavailable.to));
    const text = `writes unavailable ${secs(m.unavailable.to - m.unavailable.from)}`;
    const tx = Math.min(Math.max((x0 + x1) / 2, LEFT + (text.length * CHAR_W) / 2), LEFT + PLOT_W - (text.length * CHAR_W) / 2);
    parts.push(
      `<g class="unavailable"><line x1="${f(x0)}" y1="${windowY}" x2="${f(x1)}" y2="${windowY}" stroke="#444" stroke-width="1.5"/><line x1="${f(x0)}" y1="${windowY - 4}" x2="${f(x0)}" y2="${windowY + 4}" stroke="#444"/><line x1="${f(x1)}" y1="${windowY - 4}" x2="${f(x1)}" y2="${windowY + 4}" stroke="#444"/><text x="${f(tx)}" y="${windowY - 4}" text-anchor="middle" class="note">${esc(text)}</text></g>`,
    );
  }

  // Failed and indeterminate writes: ticks in two rows under the axis.
  const tickRow = (counts: number[], y: number, cls: string, colour: string, label: string, total: number) => {
    let d = "";
    for (let i = 0; i < counts.length; ) {
      if (counts[i] === 0) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < counts.length && counts[j]! > 0) j++; // a run of buckets with any such write is one tick
      const w = Math.max((j - i) * bw, 1);
      d += `M${f(LEFT + i * bw)} ${y}h${f(w)}v${rowH}h${f(-w)}z`;
      i = j;
    }
    parts.push(`<text x="${LEFT - 6}" y="${y + 10}" text-anchor="end" class="row-label">${esc(`${label} (${total})`)}</text>`);
    parts.push(`<rect x="${LEFT}" y="${y}" width="${PLOT_W}" height="${rowH}" fill="#f7f7f7"/>`);
    if (d) parts.push(`<path class="${cls}" d="${d}" fill="${colour}"><title>${esc(`${total} ${label} writes`)}</title></path>`);
  };
  tickRow(m.failed, failY, "ticks-failed", FAILED_COLOUR, "failed", m.totals.fail);
  tickRow(m.indeterminate, unknownY, "ticks-indeterminate", UNKNOWN_COLOUR, "unknown", m.totals.info);

  // Per-node probe bands: what each node answered when written to directly.
  if (probeNodes.length > 0) {
    parts.push(`<text x="${LEFT}" y="${probeY - 4}" class="row-label">node probes</text>`);
  }
  probeNodes.forEach((node, i) => {
    const y = probeY + i * (probeH + probeGap);
    parts.push(`<text x="${LEFT - 6}" y="${y + 11}" text-anchor="end" class="row-label">${esc(node)}</text>`);
    const segs = m.probes[node]!.map(
      (s) =>
        `<rect class="probe probe-${s.state}" x="${f(x(s.from))}" y="${y}" width="${f(Math.max(0.5, x(s.to) - x(s.from)))}" height="${probeH}" fill="${PROBE_COLOURS[s.state]}"><title>${esc(`${node} ${s.state} ${secs(s.from)} to ${secs(s.to)}`)}</title></rect>`,
    );
    parts.push(`<g class="probe-band" data-node="${esc(node)}">${segs.join("")}</g>`);
  });

  // Vertical markers and their labels.
  const labels: Label[] = [];
  const markerBottom = bottom;
  for (const fw of m.faults) {
    labels.push({ x: x(fw.from), text: `⚡ ${fw.label}`, cls: "fault-label", colour: "#b5441b", title: `fault ${fw.label} at ${secs(fw.from)}` });
  }
  for (const p of m.primaryChanges) {
    const xp = x(p.at);
    parts.push(`<line class="primary-change" x1="${f(xp)}" y1="${LABEL_Y - 10}" x2="${f(xp)}" y2="${markerBottom}" stroke="#222" stroke-width="1.2" stroke-dasharray="5 3"/>`);
    labels.push({ x: xp, text: `primary ${p.from} → ${p.to}`, cls: "primary-label", colour: "#222", title: `first write acknowledged by ${p.to} at ${secs(p.at)} (previous: ${p.from})` });
  }
  for (const s of m.timelineSwitches) {
    const xs = x(s.at);
    parts.push(`<line class="timeline-switch" x1="${f(xs)}" y1="${LABEL_Y - 10}" x2="${f(xs)}" y2="${markerBottom}" stroke="#6a1b9a" stroke-width="1.2" stroke-dasharray="1.5 2.5"/>`);
    labels.push({ x: xs, text: `timeline ${s.from} → ${s.to}`, cls: "timeline-label", colour: "#6a1b9a", title: `first write on timeline ${s.to} at ${secs(s.at)}` });
  }
  parts.push(...placeLabels(labels, LEFT + PLOT_W));

  const id = opts.id === undefined ? "timeline" : opts.id;
  return (
    `<svg${id === null ? "" : ` id="${esc(id)}"`}${opts.className ? ` class="${esc(opts.className)}"` : ""} viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="${esc(opts.label ?? "timeline of the run")}">` +
    `<style>.grid{stroke:#e6e6e6;stroke-width:1}.axis{stroke:#555;stroke-width:1}.tick,.row-label,.note{font:11px system-ui,sans-serif;fill:#444}.phase-label{font:10px system-ui,sans-serif;fill:#667}.axis-title{font:11px system-ui,sans-serif;fill:#555}text{font:11px system-ui,sans-serif}.fault-label{font-weight:600}</style>` +
    parts.join("") +
    `</svg>`
  );
}

/** The chart's legend, as HTML next to the SVG. */
export function renderLegend(m: TimelineModel): string {
  const item = (swatch: string, text: string) => `<span class="legend-item">${swatch}${esc(text)}</span>`;
  const box = (colour: string, extra = "") => `<span class="swatch" style="background:${colour};${extra}"></span>`;
  const items = [
    ...m.nodes.filter((nd) => m.acked.some((b) => (b[nd] ?? 0) > 0)).map((nd) => item(box(nodeColour(m.nodes.indexOf(nd))), `writes served by ${nd}`)),
    item(box(FAILED_COLOUR), "failed write"),
    item(box(UNKNOWN_COLOUR), "unknown outcome (maybe committed)"),
    item(box("#f4a261", "opacity:.45"), "fault window"),
    item(`<span class="swatch line" style="border-color:#222"></span>`, "primary change"),
    item(`<span class="swatch line dotted" style="border-color:#6a1b9a"></span>`, "timeline switch"),
    ...(Object.keys(m.probes).length ? (Object.keys(PROBE_COLOURS) as NodeProbeState[]).map((s) => item(box(PROBE_COLOURS[s]), `probe: ${s}`)) : []),
  ];
  return `<div class="legend">${items.join("")}</div>`;
}
