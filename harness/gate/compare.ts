import type { CheckResult, Expectations } from "../checkers/types.ts";
import { distribution, repeatFigures, type Distribution } from "../report/distribution.ts";
import type { Verdict } from "../scenario/verdict.ts";
import { HIGHER_IS_BETTER, STATS, marginFor, type Baseline, type Stat } from "./baseline.ts";

/** One run of a (scenario, profile): its verdict, or why there is none. */
export interface RunOutcome {
  runDir?: string;
  verdict?: Verdict;
  /** The run failed (runScenario threw); a verdict may still be attached. */
  error?: string;
}

export interface EntryResults {
  /** "primary-kill/fast" */
  key: string;
  scenario: string;
  profile: string;
  runs: RunOutcome[];
}

/** What the scenario promises, per key (expectationsFor in the runner). */
export type GateExpectations = Expectations;

export type FigureStatus = "ok" | "improved" | "regressed" | "missing";

export interface FigureComparison {
  key: string;
  figure: string;
  stat: Stat;
  value?: number;
  baseline: number;
  /** The worst value the tolerance allows. */
  limit: number;
  /** value − baseline (positive: larger). */
  delta?: number;
  deltaPct?: number;
  status: FigureStatus;
  message: string;
}

export type FindingKind = "safety" | "expectation" | "run" | "baseline";

export interface Finding {
  key: string;
  kind: FindingKind;
  /** 1-based run number within the key, when the finding is about one run. */
  run?: number;
  runDir?: string;
  message: string;
}

export interface EntryComparison {
  key: string;
  scenario: string;
  profile: string;
  runs: RunOutcome[];
  distributions: Record<string, Distribution | undefined>;
  figures: FigureComparison[];
  findings: Finding[];
  /** No baseline entry, tolerated because the baseline is being updated. */
  baselineMissing: boolean;
  pass: boolean;
}

export interface GateComparison {
  pass: boolean;
  entries: EntryComparison[];
  /** Every figure that regressed or is missing, across entries. */
  regressions: FigureComparison[];
  /** Every safety, expectation, run and baseline finding, across entries. */
  findings: Finding[];
}

export interface CompareOptions {
  /** --update-baseline: a missing entry is no error and a regression does not fail (it is being accepted). */
  updateBaseline?: boolean;
  /** Names the baseline in messages ("suites/smoke.baseline.json"). */
  baselineName?: string;
}

export const fmt = (figure: string, v: number) => (figure.endsWith("Ms") ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v * 100) / 100}`);
const pct = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}%`;
const signed = (figure: string, d: number) => `${d >= 0 ? "+" : "-"}${fmt(figure, Math.abs(d))}`;
const reasonsOf = (c: CheckResult) => (c.reasons?.length ? c.reasons.join("; ") : (c.error ?? "no reason given"));

/**
 * Safety verdicts fail the gate whatever the baseline says, unless the scenario declares the outcome
 * expected: lost acknowledged writes (beyond expect.lostWrites), other data-loss findings, split-brain
 * (unless expect.splitBrain), divergence (unless expect.divergence). A safety check that could not decide
 * ("unknown") or is absent also fails: the run did not show the cluster safe.
 */
export function safetyFindings(v: Verdict, expect: GateExpectations): string[] {
  const out: string[] = [];
  const loss = v.checks.dataLoss;
  const allowed = expect.lostWrites ?? 0;
  if (!loss) out.push("data loss was not checked (no dataLoss verdict)");
  else if (typeof loss.lost === "number" && loss.lost > allowed) {
    // The checker's own sentence about the count is replaced by this one; its other findings are kept.
    const others = (loss.reasons ?? []).filter((r) => !/acknowledged writes lost/.test(r));
    const ids = Array.isArray(loss.lostIds) && loss.lostIds.length ? `: ids ${loss.lostIds.slice(0, 10).join(", ")}${loss.lostIds.length > 10 ? ", ..." : ""}` : "";
    out.push(`${loss.lost} acknowledged writes lost (the scenario allows ${allowed})${ids}${others.length ? `; ${others.join("; ")}` : ""}`);
  } else if (loss.valid === false) out.push(`data loss: ${reasonsOf(loss)}`);
  else if (loss.valid !== true) out.push(`data loss could not be decided: ${reasonsOf(loss)}`);

  const split = v.checks.splitBrain;
  if (split && split.valid === false && expect.splitBrain !== true) out.push(`split-brain: ${reasonsOf(split)}`);
  else if (split && split.valid === "unknown") out.push(`split-brain could not be decided: ${reasonsOf(split)}`);

  const div = v.checks.divergence;
  if (!div) out.push("divergence was not checked (no divergence verdict)");
  else if (expect.divergence !== true) {
    const members = (div.members as Array<{ node: string; extra?: number; missing?: number; sameTimeline?: boolean }> | undefined) ?? [];
    const diverged = members.filter((m) => (m.extra ?? 0) > 0 || (m.missing ?? 0) > 0 || m.sameTimeline === false);
    if (div.valid === false) out.push(`divergence: ${reasonsOf(div)}`);
    else if (diverged.length > 0) out.push(`divergence: members ${diverged.map((m) => m.node).join(", ")} differ from the leader`);
    else if (div.valid !== true) out.push(`divergence could not be decided: ${reasonsOf(div)}`);
  }
  return out;
}

const SAFETY_CHECKS = new Set(["dataLoss", "divergence", "splitBrain"]);

function runFindings(e: EntryResults, expect: GateExpectations): Finding[] {
  const out: Finding[] = [];
  e.runs.forEach((r, i) => {
    const at = { key: e.key, run: i + 1, runDir: r.runDir };
    if (r.error) out.push({ ...at, kind: "run", message: `run failed: ${r.error}` });
    const v = r.verdict;
    if (!v) {
      if (!r.error) out.push({ ...at, kind: "run", message: "no verdict" });
      return;
    }
    if (v.run.error && v.run.error !== r.error) out.push({ ...at, kind: "run", message: `run error: ${v.run.error}` });
    if (Object.keys(v.checks).length === 0) return; // nothing ran: the run finding says why
    for (const m of safetyFindings(v, expect)) out.push({ ...at, kind: "safety", message: m });
    for (const [name, c] of Object.entries(v.checks)) {
      if (SAFETY_CHECKS.has(name) || c.valid === true) continue;
      out.push({ ...at, kind: "expectation", message: `${name} ${c.valid === false ? "failed" : "could not decide"}: ${reasonsOf(c)}` });
    }
  });
  return out;
}

/** One figure statistic against the baseline's value. */
export function compareFigure(key: string, figure: string, stat: Stat, value: number | undefined, base: number, t: Baseline["tolerance"]): FigureComparison {
  const { margin, relative, absolute } = marginFor(t, figure, base);
  const higher = HIGHER_IS_BETTER.has(figure);
  const limit = higher ? base - margin : base + margin;
  const allowance = `tolerance ${Math.round(relative * 100)}% or ${fmt(figure, absolute)}, whichever is larger`;
  const what = `${key} ${figure} ${stat}`;
  if (value === undefined) {
    return { key, figure, stat, baseline: base, limit, status: "missing", message: `${what}: no run produced this figure, but the baseline has ${fmt(figure, base)}` };
  }
  const delta = value - base;
  const deltaPct = base === 0 ? (delta === 0 ? 0 : Infinity) : (delta / Math.abs(base)) * 100;
  const worse = higher ? value < limit : value > limit;
  const better = higher ? value > base + margin : value < base - margin;
  const status: FigureStatus = worse ? "regressed" : better ? "improved" : "ok";
  const change = `${signed(figure, delta)}${Number.isFinite(deltaPct) ? `, ${pct(deltaPct)}` : ""}`;
  const message =
    status === "regressed"
      ? `${what} regressed: ${fmt(figure, value)} against the baseline ${fmt(figure, base)} (${change}); the ${allowance}, allows ${higher ? "down" : "up"} to ${fmt(figure, limit)}`
      : `${what} ${status === "improved" ? "improved" : "ok"}: ${fmt(figure, value)} against the baseline ${fmt(figure, base)} (${change})`;
  return { key, figure, stat, value, baseline: base, limit, delta, deltaPct, status, message };
}

/**
 * Compares a suite's results with the scenarios' expectations and a baseline. Pure: no files, no clock.
 * An entry passes when every run has a verdict that met every expectation, no safety finding, and every
 * baselined figure statistic is within tolerance (or better).
 */
export function compare(
  results: readonly EntryResults[],
  baseline: Baseline | undefined,
  expectations: Readonly<Record<string, GateExpectations>>,
  opts: CompareOptions = {},
): GateComparison {
  const entries = results.map((e): EntryComparison => {
    const verdicts = e.runs.flatMap((r) => (r.verdict && Object.keys(r.verdict.checks).length > 0 ? [r.verdict] : []));
    const values = repeatFigures(verdicts);
    const distributions = Object.fromEntries(Object.entries(values).map(([k, xs]) => [k, distribution(xs)]));
    const findings = runFindings(e, expectations[e.key] ?? {});
    if (e.runs.length === 0) findings.push({ key: e.key, kind: "run", message: "no runs" });

    const entry = baseline?.scenarios[e.key];
    const figures: FigureComparison[] = [];
    if (!entry && !opts.updateBaseline) {
      findings.push({
        key: e.key,
        kind: "baseline",
        message: `no baseline for ${e.key}${opts.baselineName ? ` in ${opts.baselineName}` : ""}: record one with --update-baseline`,
      });
    }
    for (const [figure, stats] of Object.entries(entry ?? {})) {
      for (const stat of STATS) {
        const base = stats[stat];
        if (base === undefined) continue;
        // Drawn from all runs that produced the figure; failed runs also carry findings of their own.
        figures.push(compareFigure(e.key, figure, stat, distributions[figure]?.[stat], base, baseline!.tolerance));
      }
    }
    const figuresFail = !opts.updateBaseline && figures.some((f) => f.status === "regressed" || f.status === "missing");
    return {
      key: e.key,
      scenario: e.scenario,
      profile: e.profile,
      runs: e.runs,
      distributions,
      figures,
      findings,
      baselineMissing: !entry,
      pass: findings.length === 0 && !figuresFail,
    };
  });
  return {
    pass: entries.every((e) => e.pass),
    entries,
    regressions: entries.flatMap((e) => e.figures.filter((f) => f.status === "regressed" || f.status === "missing")),
    findings: entries.flatMap((e) => e.findings),
  };
}

/**
 * The baseline after --update-baseline: entries whose runs were clean get the new median and p95 of the
 * gated figures; others keep what they had. The tolerance is the file's (or the default for a new file).
 */
export function updatedBaseline(
  previous: Baseline | undefined,
  comparison: GateComparison,
  figures: readonly string[],
  now: Date,
  fallbackTolerance: Baseline["tolerance"],
): { baseline: Baseline; updated: string[]; skipped: Array<{ key: string; why: string }> } {
  const next: Baseline = {
    ...(previous ?? { tolerance: fallbackTolerance, scenarios: {} }),
    scenarios: { ...(previous?.scenarios ?? {}) },
    sources: { ...(previous?.sources ?? {}) },
  };
  const updated: string[] = [];
  const skipped: Array<{ key: string; why: string }> = [];
  for (const e of comparison.entries) {
    if (e.findings.length > 0) {
      skipped.push({ key: e.key, why: e.findings.map((f) => f.message).join("; ") });
      continue;
    }
    const stats: Record<string, { median: number; p95: number }> = {};
    for (const f of figures) {
      const d = e.distributions[f];
      if (d) stats[f] = { median: d.median, p95: d.p95 };
    }
    next.scenarios[e.key] = stats;
    next.sources![e.key] = { runs: e.runs.length, updatedAt: now.toISOString() };
    updated.push(e.key);
  }
  return { baseline: next, updated, skipped };
}
