import type { HistoryEntry } from "../history/types.ts";
import type { Expectations, FinalState, CheckResult, Validity } from "../checkers/types.ts";
import { combineValidity, defaultCheckers, runCheckers } from "../checkers/index.ts";
import { recovery } from "../checkers/recovery.ts";
import { hasRestore, pointInTime, recoveryPoint } from "../checkers/restore.ts";

export interface Verdict {
  scenario: string;
  platform: string;
  /** The HA stack that ran (`patroni@4.0.7`); absent in runs recorded before stacks were an axis. */
  stack?: string;
  profile: string;
  runId?: string;
  startedAt: string;
  valid: Validity;
  expectations: Expectations;
  /** Each stated expectation with what was observed and whether it held. */
  expectationResults?: ExpectationResult[];
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

/** Every check of a run, from its history and final contents alone (recovery too, where the history records it). */
export function check(history: readonly HistoryEntry[], final: FinalState, expect: Expectations) {
  const result = runCheckers(defaultCheckers, { history, final, expect });
  if (hasRestore(history)) {
    const restore = runCheckers({ recoveryPoint, pointInTime }, { history, final, expect });
    Object.assign(result.checks, restore.checks);
    result.valid = combineValidity(result.valid, restore.valid);
  }
  const r = recovery(history);
  if (r) {
    result.checks.recovery = r;
    result.valid = combineValidity(result.valid, r.valid);
  }
  return result;
}

export interface ExpectationResult {
  expectation: string;
  expected: string;
  observed: string;
  held: boolean | "unknown";
}

/** Each expectation the scenario states, with what was observed and whether it held. */
export function evaluateExpectations(expect: Expectations, checks: Record<string, CheckResult>): ExpectationResult[] {
  const out: ExpectationResult[] = [];
  const known = (c: CheckResult | undefined, f: () => boolean) => (c === undefined || c.valid === "unknown" ? "unknown" : f());
  const f = checks.failover;
  if (expect.maxWriteUnavailableMs !== undefined) {
    const ms = f?.writeUnavailableMs;
    out.push({
      expectation: "maxWriteUnavailableMs",
      expected: `≤ ${expect.maxWriteUnavailableMs} ms`,
      observed: typeof ms === "number" ? `${ms} ms` : "not measured",
      held: typeof ms === "number" ? ms <= expect.maxWriteUnavailableMs : "unknown",
    });
  }
  const d = checks.dataLoss;
  out.push({
    expectation: "lostWrites",
    expected: `≤ ${expect.lostWrites ?? 0}`,
    observed: typeof d?.lost === "number" ? String(d.lost) : "not measured",
    held: known(d, () => (d!.lost as number) <= (expect.lostWrites ?? 0)),
  });
  const rp = checks.recoveryPoint;
  if (expect.maxRecoveryPointMs !== undefined) {
    const ms = rp?.recoveryPointMs;
    out.push({
      expectation: "maxRecoveryPointMs",
      expected: `≤ ${expect.maxRecoveryPointMs} ms of acknowledged writes lost by the restore`,
      observed: typeof ms === "number" ? `${ms} ms (${String(rp!.lostAfterRecoveryPoint)} writes)` : "not measured",
      held: typeof ms === "number" ? ms <= expect.maxRecoveryPointMs : "unknown",
    });
  }
  const dv = checks.divergence;
  out.push({
    expectation: "divergence",
    expected: expect.divergence ? "allowed" : "none",
    observed: dv === undefined ? "not measured" : dv.valid === "unknown" ? "unknown" : (dv.reasons ?? []).length > 0 ? "diverged" : "none",
    held: known(dv, () => expect.divergence === true || (dv!.reasons ?? []).length === 0),
  });
  const sb = checks.splitBrain;
  const windows = (sb?.windows as unknown[] | undefined)?.length ?? 0;
  out.push({
    expectation: "splitBrain",
    expected: expect.splitBrain ? "allowed" : "never two writable nodes",
    observed: sb === undefined || sb.valid === "unknown" ? "unknown" : `${windows} window(s)`,
    held: known(sb, () => expect.splitBrain === true || windows === 0),
  });
  return out;
}
