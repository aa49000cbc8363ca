import type { Verdict } from "../scenario/verdict.ts";

export interface Distribution {
  n: number;
  min: number;
  median: number;
  p95: number;
  max: number;
}

/** Nearest-rank percentiles; undefined for an empty sample. */
export function distribution(xs: readonly number[]): Distribution | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  const mid = s.length / 2;
  const median = s.length % 2 === 1 ? s[Math.floor(mid)]! : (s[mid - 1]! + s[mid]!) / 2;
  return { n: s.length, min: s[0]!, median, p95: rank(0.95), max: s[s.length - 1]! };
}

/** The figures worth a distribution, per run; a run that lacks one is left out of that figure. */
export function repeatFigures(verdicts: readonly Verdict[]): Record<string, number[]> {
  const pick = (f: (v: Verdict) => unknown) => verdicts.map(f).filter((x): x is number => typeof x === "number");
  return {
    writeUnavailableMs: pick((v) => v.checks.failover?.writeUnavailableMs),
    timeToNewPrimaryMs: pick((v) => v.checks.failover?.timeToNewPrimaryMs),
    lostWrites: pick((v) => v.checks.dataLoss?.lost),
    indeterminateWrites: pick((v) => v.checks.dataLoss?.indeterminate),
    recoveryMs: pick((v) => v.checks.recovery?.recoveryMs),
    splitBrainWindows: pick((v) => (v.checks.splitBrain?.windows as unknown[] | undefined)?.length),
    splitBrainMaxWindowMs: pick((v) => v.checks.splitBrain?.maxWindowMs),
    readyMs: pick((v) => v.run.readyMs),
    teardownMs: pick((v) => v.run.teardownMs),
    writeRatePerSec: pick((v) => v.run.writes.ratePerSec),
  };
}
