import type { HistoryEntry } from "../history/types.ts";
import type { Expectations, FinalState, CheckResult, Validity } from "../checkers/types.ts";
import { defaultCheckers, runCheckers } from "../checkers/index.ts";

export interface Verdict {
  scenario: string;
  platform: string;
  profile: string;
  runId?: string;
  startedAt: string;
  valid: Validity;
  expectations: Expectations;
  checks: Record<string, CheckResult>;
  settings: Record<string, unknown>;
  /** Figures of the run itself, not of the cluster's behaviour. */
  run: {
    phases: Array<{ name: string; ms: number }>;
    readyMs?: number;
    teardownMs?: number;
    recovered?: boolean;
    recoveryMs?: number;
    writes: { attempts: number; ok: number; fail: number; info: number; ratePerSec: number };
    interrupted?: boolean;
    error?: string;
  };
}

/** Write-probe figures from the history alone, so a recheck recomputes them too. */
export function writeFigures(history: readonly HistoryEntry[]): Verdict["run"]["writes"] {
  const w = history.filter((e) => e.f === "write");
  const invokes = w.filter((e) => e.type === "invoke");
  const count = (t: string) => w.filter((e) => e.type === t).length;
  const span = invokes.length > 1 ? (invokes[invokes.length - 1]!.time - invokes[0]!.time) / 1000 : 0;
  return {
    attempts: invokes.length,
    ok: count("ok"),
    fail: count("fail"),
    info: count("info"),
    ratePerSec: span > 0 ? Math.round((invokes.length / span) * 10) / 10 : 0,
  };
}

export function check(history: readonly HistoryEntry[], final: FinalState, expect: Expectations) {
  return runCheckers(defaultCheckers, { history, final, expect });
}
