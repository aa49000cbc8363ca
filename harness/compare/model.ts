/**
 * What a comparison is made of, as plain data: the figures of each run of each (scenario, profile) on each
 * stack, read from the run's verdict.json the way the repeat summaries read them (repeatFigures), and what a
 * table cell says about them. Pure: no files, no clusters.
 */
import type { Validity } from "../checkers/types.ts";
import { distribution, repeatFigures, type Distribution } from "../report/distribution.ts";
import type { Verdict } from "../scenario/verdict.ts";

/** One run, as comparison.json stores it. Figures a run lacks (a failed run lacks them all) are absent. */
export interface RunFigures {
  /** The run directory, relative to the comparison's output folder; absent when the run made none. */
  runDir?: string;
  /** The verdict; "unknown" for a run that failed (threw) before its checks. */
  valid: Validity;
  /** Why the run failed (it threw): its error message. */
  error?: string;
  writeUnavailableMs?: number;
  timeToNewPrimaryMs?: number;
  /** Acknowledged writes missing from the final primary. */
  lostWrites?: number;
  /** Writes a node acknowledged directly to a client beside it (its node probe) missing from the final primary. */
  lostDirectWrites?: number;
  indeterminateWrites?: number;
  /** Split-brain windows (two nodes certainly writable at once): how many, their union and the longest. */
  splitBrainWindows?: number;
  splitBrainTotalMs?: number;
  splitBrainMaxWindowMs?: number;
  splitBrainValid?: Validity;
  /** The divergence check's validity, and whether any member's rows or timeline differed from the leader's. */
  divergenceValid?: Validity;
  diverged?: boolean;
  recoveryMs?: number;
}

export interface CellSummary {
  /** Runs recorded (completed or failed). */
  runs: number;
  pass: number;
  fail: number;
  unknown: number;
  /** Runs that threw (counted apart from UNKNOWN verdicts). */
  failed: number;
  writeUnavailableMs?: Distribution;
  timeToNewPrimaryMs?: Distribution;
  lostWrites?: Distribution;
  lostDirectWrites?: Distribution;
  recoveryMs?: Distribution;
  splitBrain: { judged: number; runsWithWindows: number; longestMs?: number; totalMs?: number };
  divergence: { judged: number; runsDiverged: number; unknown: number };
}

export interface Cell {
  stack: string;
  runs: RunFigures[];
  summary: CellSummary;
  /** Set when this stack could not run at all (an environment error): its remaining runs were skipped. */
  skipped?: string;
}

export interface Row {
  /** "primary-kill/fast", "switchover/fast+sync". */
  key: string;
  scenario: string;
  /** The profile as run names show it: "fast", "fast+sync". */
  profile: string;
  repeat: number;
  /** One per stack, keyed by stack name, in the order of Comparison.stacks. */
  cells: Record<string, Cell>;
}

/** comparison.json */
export interface Comparison {
  version: 1;
  /** The command line, for the report and to run it again. */
  command: string;
  startedAt: string;
  finishedAt?: string;
  /** Absolute path of the output folder; run directories are relative to it. */
  outDir: string;
  stacks: string[];
  interrupted: boolean;
  rows: Row[];
}

const first = (xs: number[] | undefined) => xs?.[0];

/** The figures of one run, from its verdict (undefined: the run left none) and its error if it threw. */
export function runFigures(verdict: Verdict | undefined, runDir?: string, error?: string): RunFigures {
  const r: RunFigures = { valid: error ? "unknown" : (verdict?.valid ?? "unknown") };
  if (runDir !== undefined) r.runDir = runDir;
  if (error !== undefined) r.error = error;
  if (!verdict) return r;
  const one = repeatFigures([verdict]);
  const put = (k: keyof RunFigures, v: unknown) => {
    if (v !== undefined) (r as unknown as Record<string, unknown>)[k] = v;
  };
  put("writeUnavailableMs", first(one.writeUnavailableMs));
  put("timeToNewPrimaryMs", first(one.timeToNewPrimaryMs));
  put("lostWrites", first(one.lostWrites));
  put("indeterminateWrites", first(one.indeterminateWrites));
  const dl = verdict.checks?.dataLoss;
  if (dl && typeof dl.lostDirect === "number") put("lostDirectWrites", dl.lostDirect);
  put("recoveryMs", first(one.recoveryMs));
  const sb = verdict.checks?.splitBrain;
  if (sb) {
    put("splitBrainValid", sb.valid);
    put("splitBrainWindows", first(one.splitBrainWindows));
    put("splitBrainMaxWindowMs", first(one.splitBrainMaxWindowMs));
    put("splitBrainTotalMs", typeof sb.totalWindowMs === "number" ? sb.totalWindowMs : undefined);
  }
  const dv = verdict.checks?.divergence;
  if (dv) {
    put("divergenceValid", dv.valid);
    // As evaluateExpectations reads it: diverged when judged and any reason was given (even if allowed).
    if (dv.valid !== "unknown") r.diverged = dv.valid === false || (dv.reasons ?? []).length > 0;
  }
  return r;
}

const nums = (runs: RunFigures[], k: keyof RunFigures) => runs.map((r) => r[k]).filter((x): x is number => typeof x === "number");

export function summarize(runs: RunFigures[]): CellSummary {
  const failed = runs.filter((r) => r.error !== undefined).length;
  const done = runs.filter((r) => r.error === undefined);
  const sbJudged = runs.filter((r) => typeof r.splitBrainWindows === "number" && (r.splitBrainValid !== "unknown" || r.splitBrainWindows > 0));
  const withWindows = sbJudged.filter((r) => r.splitBrainWindows! > 0);
  const dvJudged = runs.filter((r) => r.diverged !== undefined);
  const s: CellSummary = {
    runs: runs.length,
    pass: done.filter((r) => r.valid === true).length,
    fail: done.filter((r) => r.valid === false).length,
    unknown: done.filter((r) => r.valid === "unknown").length,
    failed,
    splitBrain: { judged: sbJudged.length, runsWithWindows: withWindows.length },
    divergence: { judged: dvJudged.length, runsDiverged: dvJudged.filter((r) => r.diverged).length, unknown: runs.filter((r) => r.divergenceValid === "unknown").length },
  };
  for (const k of ["writeUnavailableMs", "timeToNewPrimaryMs", "lostWrites", "lostDirectWrites", "recoveryMs"] as const) {
    const d = distribution(nums(runs, k));
    if (d) s[k] = d;
  }
  if (withWindows.length > 0) {
    s.splitBrain.longestMs = Math.max(...nums(withWindows, "splitBrainMaxWindowMs"), 0);
    s.splitBrain.totalMs = nums(withWindows, "splitBrainTotalMs").reduce((a, b) => a + b, 0);
  }
  return s;
}

/** The worst outcome of a cell, for its colour: a failed run or a FAIL makes it "fail". */
export function cellStatus(s: CellSummary): "pass" | "fail" | "unknown" | "none" {
  if (s.runs === 0) return "none";
  if (s.fail > 0 || s.failed > 0) return "fail";
  if (s.unknown > 0) return "unknown";
  return "pass";
}

/** A cell in words, shared by comparison.md, comparison.html, COMPARISON.md and the terminal. */
export interface CellText {
  unavailable: string;
  lost: string;
  splitBrain: string;
  divergence: string;
  recovery: string;
  verdict: string;
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** "1 run", "3 runs", "2 of 3 runs": how many runs a figure is over, out of those that ran. */
function over(n: number, of: number): string {
  if (n === of || of === 0) return n === 1 ? "1 run" : `${n} runs`;
  return `${n} of ${of} runs`;
}

export function cellText(s: CellSummary, skipped?: string): CellText {
  const total = s.runs;
  const dash = "–";
  const unav = s.writeUnavailableMs;
  const lost = s.lostWrites;
  const rec = s.recoveryMs;
  const sb = s.splitBrain;
  const dv = s.divergence;
  const counts = [
    s.pass && `${s.pass} PASS`,
    s.fail && `${s.fail} FAIL`,
    s.unknown && `${s.unknown} UNKNOWN`,
    s.failed && `${s.failed} ${s.failed === 1 ? "run" : "runs"} failed`,
  ].filter(Boolean);
  return {
    unavailable: !unav ? dash : unav.n === 1 ? `${secs(unav.median)} (${over(1, total)})` : `median ${secs(unav.median)}, p95 ${secs(unav.p95)} (${over(unav.n, total)})`,
    lost:
      (!lost ? dash : lost.n === 1 ? `${lost.median} (${over(1, total)})` : `median ${lost.median}, max ${lost.max} (${over(lost.n, total)})`) +
      (s.lostDirectWrites && s.lostDirectWrites.max > 0
        ? `; acknowledged directly by a node: ${s.lostDirectWrites.n === 1 ? s.lostDirectWrites.median : `median ${s.lostDirectWrites.median}, max ${s.lostDirectWrites.max}`}`
        : ""),
    splitBrain:
      sb.judged === 0
        ? dash
        : sb.runsWithWindows === 0
          ? `none (${over(sb.judged, total)})`
          : `${sb.runsWithWindows} of ${sb.judged} ${sb.judged === 1 ? "run" : "runs"}, longest ${secs(sb.longestMs ?? 0)}`,
    divergence:
      [
        dv.judged > 0 && (dv.runsDiverged === 0 ? `none (${over(dv.judged, total)})` : `${dv.runsDiverged} of ${dv.judged} ${dv.judged === 1 ? "run" : "runs"}`),
        dv.unknown > 0 && `${dv.unknown} unknown`,
      ]
        .filter(Boolean)
        .join(", ") || dash,
    recovery: !rec ? dash : rec.n === 1 ? `${secs(rec.median)} (${over(1, total)})` : `median ${secs(rec.median)} (${over(rec.n, total)})`,
    verdict: (counts.join(", ") || "not run") + (skipped ? ` (skipped: ${skipped})` : ""),
  };
}
