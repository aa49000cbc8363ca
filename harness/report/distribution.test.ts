import { describe, expect, it } from "vitest";
import type { CheckResult } from "../checkers/types.ts";
import type { Verdict } from "../scenario/verdict.ts";
import { distribution, repeatFigures } from "./distribution.ts";

describe("distribution", () => {
  it("is undefined for an empty sample", () => {
    expect(distribution([])).toBeUndefined();
  });

  it("one value is every statistic", () => {
    expect(distribution([7])).toEqual({ n: 1, min: 7, median: 7, p95: 7, max: 7 });
  });

  it("odd count: the middle value is the median", () => {
    expect(distribution([5, 1, 3])).toEqual({ n: 3, min: 1, median: 3, p95: 5, max: 5 });
  });

  it("even count: the median is the mean of the two middle values", () => {
    expect(distribution([4, 1, 3, 2])).toEqual({ n: 4, min: 1, median: 2.5, p95: 4, max: 4 });
  });

  it("p95 is the nearest rank, ceil(0.95 n)", () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(distribution(hundred)!.p95).toBe(95);
    const twenty = Array.from({ length: 20 }, (_, i) => (i + 1) * 10); // 10..200
    expect(distribution(twenty)!.p95).toBe(190); // rank 19
    const twentyOne = Array.from({ length: 21 }, (_, i) => i + 1);
    expect(distribution(twentyOne)!.p95).toBe(20); // ceil(19.95) = 20
    expect(distribution([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])!.p95).toBe(10); // ceil(9.5) = 10
  });

  it("sorts numerically, not as strings", () => {
    expect(distribution([100, 9, 20])).toEqual({ n: 3, min: 9, median: 20, p95: 100, max: 100 });
  });

  it("does not mutate its input", () => {
    const xs = [3, 1, 2];
    const frozen = Object.freeze([...xs]);
    distribution(xs);
    expect(xs).toEqual([3, 1, 2]);
    expect(() => distribution(frozen)).not.toThrow();
  });
});

function verdict(
  checks: Record<string, Partial<CheckResult>>,
  run: Partial<Verdict["run"]> = {},
  ratePerSec = 100,
): Verdict {
  return {
    scenario: "s",
    platform: "local",
    profile: "fast",
    startedAt: "2026-01-01T00:00:00.000Z",
    valid: true,
    expectations: {},
    settings: {},
    checks: Object.fromEntries(Object.entries(checks).map(([k, c]) => [k, { valid: true, ...c } as CheckResult])),
    run: { phases: [], writes: { attempts: 0, ok: 0, fail: 0, info: 0, ratePerSec }, ...run },
  };
}

describe("repeatFigures", () => {
  it("collects each figure across runs, in run order", () => {
    const vs = [
      verdict(
        {
          failover: { writeUnavailableMs: 9000, timeToNewPrimaryMs: 8000 },
          dataLoss: { lost: 0, indeterminate: 2 },
          recovery: { recoveryMs: 4000 },
          splitBrain: { windows: [], maxWindowMs: 0 },
        },
        { readyMs: 20_000, teardownMs: 1500 },
        95.5,
      ),
      verdict(
        {
          failover: { writeUnavailableMs: 11_000, timeToNewPrimaryMs: 10_500 },
          dataLoss: { lost: 1, indeterminate: 0 },
          recovery: { recoveryMs: 5000 },
          splitBrain: { windows: [{}, {}], maxWindowMs: 1200 },
        },
        { readyMs: 21_000, teardownMs: 1600 },
        97,
      ),
    ];
    expect(repeatFigures(vs)).toEqual({
      writeUnavailableMs: [9000, 11_000],
      timeToNewPrimaryMs: [8000, 10_500],
      lostWrites: [0, 1],
      indeterminateWrites: [2, 0],
      recoveryMs: [4000, 5000],
      splitBrainWindows: [0, 2],
      splitBrainMaxWindowMs: [0, 1200],
      readyMs: [20_000, 21_000],
      teardownMs: [1500, 1600],
      writeRatePerSec: [95.5, 97],
    });
  });

  it("leaves out runs lacking a figure, keeping zeros", () => {
    const vs = [
      verdict({ failover: { writeUnavailableMs: 9000 } }, { readyMs: 0 }),
      verdict({}, {}), // a run that failed before any check
      verdict({ failover: { valid: "unknown" }, dataLoss: { lost: 0 } }, { teardownMs: 1000 }),
      verdict({ failover: { writeUnavailableMs: "n/a" as unknown as number } }),
    ];
    const f = repeatFigures(vs);
    expect(f.writeUnavailableMs).toEqual([9000]);
    expect(f.timeToNewPrimaryMs).toEqual([]);
    expect(f.lostWrites).toEqual([0]);
    expect(f.recoveryMs).toEqual([]);
    expect(f.readyMs).toEqual([0]);
    expect(f.teardownMs).toEqual([1000]);
    expect(f.writeRatePerSec).toEqual([100, 100, 100, 100]);
  });

  it("gives empty lists for no runs", () => {
    expect(Object.values(repeatFigures([])).every((xs) => xs.length === 0)).toBe(true);
  });
});
