import { describe, expect, it } from "vitest";
import type { CheckResult, Validity } from "../checkers/types.ts";
import type { Verdict } from "../scenario/verdict.ts";
import type { Baseline } from "./baseline.ts";
import { compare, compareFigure, safetyFindings, updatedBaseline, type EntryResults, type GateExpectations } from "./compare.ts";

const KEY = "primary-kill/fast";

/** A clean run with the given failover figures; `over` replaces or adds checks. */
function verdict(writeUnavailableMs: number, over: Record<string, Partial<CheckResult>> = {}, valid: Validity = true): Verdict {
  const checks: Record<string, CheckResult> = {
    failover: { valid: true, writeUnavailableMs, timeToNewPrimaryMs: writeUnavailableMs - 200, oldPrimary: "n1", newPrimary: "n2" },
    dataLoss: { valid: true, acknowledged: 1000, lost: 0, indeterminate: 1 },
    divergence: { valid: true, leader: "n2", leaderTimeline: 2, members: [{ node: "n1", extra: 0, missing: 0, sameTimeline: true }] },
    splitBrain: { valid: true, windows: [] },
    recovery: { valid: true, recoveryMs: 3000 },
  };
  for (const [k, c] of Object.entries(over)) checks[k] = { ...checks[k], ...c } as CheckResult;
  return {
    scenario: "primary-kill",
    platform: "local",
    profile: "fast",
    startedAt: "2026-01-01T00:00:00.000Z",
    valid,
    expectations: {},
    settings: {},
    checks,
    run: { phases: [], writes: { attempts: 1, ok: 1, fail: 0, info: 0, ratePerSec: 100 } },
  };
}

const results = (...vs: Verdict[]): EntryResults[] => [{ key: KEY, scenario: "primary-kill", profile: "fast", runs: vs.map((v, i) => ({ runDir: `/r/${i}`, verdict: v })) }];

const baseline = (median: number, p95: number, over: Partial<Baseline> = {}): Baseline => ({
  tolerance: { relative: 0.5, absoluteMs: 2000 },
  scenarios: { [KEY]: { writeUnavailableMs: { median, p95 } } },
  ...over,
});

const EXPECT: Record<string, GateExpectations> = { [KEY]: { lostWrites: 0, divergence: false, splitBrain: false } };

describe("compare: figures against the baseline", () => {
  it("an improvement passes and is reported as improved", () => {
    const c = compare(results(verdict(4000), verdict(4200), verdict(4100)), baseline(10_000, 11_000), EXPECT);
    expect(c.pass).toBe(true);
    expect(c.regressions).toEqual([]);
    expect(c.entries[0]!.figures.map((f) => [f.stat, f.status])).toEqual([
      ["median", "improved"],
      ["p95", "improved"],
    ]);
    expect(c.entries[0]!.figures[0]!.message).toContain("improved");
  });

  it("within tolerance passes as ok, even when somewhat worse", () => {
    // median 14 s vs 10 s: +40%, under the 50% allowance (limit 15 s).
    const c = compare(results(verdict(14_000), verdict(13_000), verdict(14_500)), baseline(10_000, 12_000), EXPECT);
    expect(c.pass).toBe(true);
    expect(c.entries[0]!.figures.every((f) => f.status === "ok")).toBe(true);
    expect(c.entries[0]!.figures[0]).toMatchObject({ value: 14_000, baseline: 10_000, limit: 15_000, delta: 4000 });
  });

  it("a regression beyond tolerance fails, naming the figure, the amount and the baseline", () => {
    const c = compare(results(verdict(16_000), verdict(16_500), verdict(17_000)), baseline(10_000, 11_000), EXPECT);
    expect(c.pass).toBe(false);
    expect(c.entries[0]!.pass).toBe(false);
    const median = c.regressions.find((r) => r.stat === "median")!;
    expect(median).toMatchObject({ key: KEY, figure: "writeUnavailableMs", status: "regressed", value: 16_500, baseline: 10_000, limit: 15_000, delta: 6500 });
    expect(median.deltaPct).toBeCloseTo(65, 5);
    expect(median.message).toContain("primary-kill/fast writeUnavailableMs median regressed");
    expect(median.message).toContain("16.50 s against the baseline 10.00 s");
    expect(median.message).toContain("+6.50 s, +65.0%");
    expect(median.message).toContain("allows up to 15.00 s");
    const p95 = c.regressions.find((r) => r.stat === "p95")!;
    expect(p95).toMatchObject({ value: 17_000, baseline: 11_000, limit: 16_500 });
  });

  it("the absolute allowance protects small figures from noise", () => {
    // 2 s baseline: 50% is 1 s, but absoluteMs 2 s applies, so the limit is 4 s.
    expect(compareFigure(KEY, "writeUnavailableMs", "median", 3900, 2000, { relative: 0.5, absoluteMs: 2000 }).status).toBe("ok");
    expect(compareFigure(KEY, "writeUnavailableMs", "median", 4100, 2000, { relative: 0.5, absoluteMs: 2000 }).status).toBe("regressed");
  });

  it("per-figure tolerance overrides and figures where higher is better", () => {
    const t = { relative: 0.1, absoluteMs: 0, absolute: 0, figures: { recoveryMs: { relative: 1 } } };
    expect(compareFigure(KEY, "recoveryMs", "median", 5900, 3000, t).status).toBe("ok"); // limit 6 s
    expect(compareFigure(KEY, "timeToNewPrimaryMs", "median", 3400, 3000, t).status).toBe("regressed"); // limit 3.3 s
    const rate = compareFigure(KEY, "writeRatePerSec", "median", 80, 100, t); // limit 90/s, lower is worse
    expect(rate).toMatchObject({ status: "regressed", limit: 90 });
    expect(rate.message).toContain("allows down to 90");
    expect(compareFigure(KEY, "writeRatePerSec", "median", 120, 100, t).status).toBe("improved");
  });

  it("a baselined figure no run produced fails as missing", () => {
    const b = baseline(10_000, 11_000);
    b.scenarios[KEY]!.recoveryMs = { median: 3000 };
    const v = verdict(10_000);
    delete v.checks.recovery;
    const c = compare(results(v), b, EXPECT);
    expect(c.pass).toBe(false);
    expect(c.regressions).toEqual([expect.objectContaining({ figure: "recoveryMs", status: "missing" })]);
    expect(c.regressions[0]!.message).toContain("no run produced this figure");
  });

  it("compares only what the baseline lists", () => {
    const c = compare(results(verdict(10_000)), baseline(10_000, 10_000), EXPECT);
    expect(c.entries[0]!.figures.map((f) => f.figure)).toEqual(["writeUnavailableMs", "writeUnavailableMs"]);
    expect(c.entries[0]!.distributions.recoveryMs).toMatchObject({ n: 1, median: 3000 }); // still reported
  });
});

describe("compare: missing baseline", () => {
  it("is a clear error naming the key and the file", () => {
    const c = compare(results(verdict(10_000)), { tolerance: { relative: 0.5, absoluteMs: 2000 }, scenarios: {} }, EXPECT, { baselineName: "suites/smoke.baseline.json" });
    expect(c.pass).toBe(false);
    expect(c.findings).toEqual([
      expect.objectContaining({ key: KEY, kind: "baseline", message: "no baseline for primary-kill/fast in suites/smoke.baseline.json: record one with --update-baseline" }),
    ]);
    expect(compare(results(verdict(10_000)), undefined, EXPECT).pass).toBe(false);
  });

  it("is no error while updating the baseline, and regressions then do not fail", () => {
    const missing = compare(results(verdict(10_000)), undefined, EXPECT, { updateBaseline: true });
    expect(missing.pass).toBe(true);
    expect(missing.entries[0]!.baselineMissing).toBe(true);
    const worse = compare(results(verdict(30_000)), baseline(10_000, 10_000), EXPECT, { updateBaseline: true });
    expect(worse.pass).toBe(true);
    expect(worse.regressions).toHaveLength(2); // still reported
  });
});

describe("compare: safety always fails unless declared expected", () => {
  const good = baseline(10_000, 11_000);

  it("lost acknowledged writes fail even when every figure is fine", () => {
    const lossy = verdict(10_000, { dataLoss: { valid: false, lost: 2, reasons: ["2 acknowledged writes lost (allowed 0): 41, 42"] } }, false);
    const c = compare(results(verdict(10_000), lossy, verdict(10_000)), good, EXPECT);
    expect(c.pass).toBe(false);
    expect(c.regressions).toEqual([]);
    expect(c.findings).toEqual([expect.objectContaining({ kind: "safety", run: 2, runDir: "/r/1" })]);
    expect(c.findings[0]!.message).toContain("2 acknowledged writes lost (the scenario allows 0)");
  });

  it("lost writes fail from the figure alone, even if the checker said valid", () => {
    const c = compare(results(verdict(10_000, { dataLoss: { valid: true, lost: 1 } })), good, EXPECT);
    expect(c.pass).toBe(false);
    expect(c.findings[0]!.message).toContain("1 acknowledged writes lost");
  });

  it("split-brain and divergence fail", () => {
    const split = verdict(10_000, { splitBrain: { valid: false, reasons: ["n1 and n2 writable together for 1200 ms"] } }, false);
    const forked = verdict(10_000, { divergence: { valid: false, reasons: ["member n1 is on timeline 3, the leader n2 on timeline 2"] } }, false);
    const c = compare(results(split, forked, verdict(10_000)), good, EXPECT);
    expect(c.pass).toBe(false);
    expect(c.findings.map((f) => f.message)).toEqual([
      "split-brain: n1 and n2 writable together for 1200 ms",
      "divergence: member n1 is on timeline 3, the leader n2 on timeline 2",
    ]);
    // Diverged member figures fail even when the checker let them through.
    const quiet = verdict(10_000, { divergence: { valid: true, members: [{ node: "n3", extra: 4, missing: 0, sameTimeline: true }] } });
    expect(compare(results(quiet), good, EXPECT).findings[0]!.message).toBe("divergence: members n3 differ from the leader");
  });

  it("a safety check that could not decide, or is absent, fails", () => {
    const unknown = verdict(10_000, { dataLoss: { valid: "unknown", reasons: ["no leader in the final state: cannot tell which writes survived"] } }, "unknown");
    const noDivergence = verdict(10_000);
    delete noDivergence.checks.divergence;
    const c = compare(results(unknown, noDivergence), good, EXPECT);
    expect(c.findings.map((f) => f.message)).toEqual([
      "data loss could not be decided: no leader in the final state: cannot tell which writes survived",
      "divergence was not checked (no divergence verdict)",
    ]);
  });

  it("declared-expected safety outcomes pass", () => {
    const expected: Record<string, GateExpectations> = { [KEY]: { lostWrites: 5, divergence: true, splitBrain: true } };
    const v = verdict(10_000, {
      dataLoss: { valid: true, lost: 3 },
      divergence: { valid: true, divergenceExpected: true, members: [{ node: "n1", extra: 3, missing: 0, sameTimeline: false }], reasons: ["member n1 has 3 rows the leader n2 lacks"] },
      splitBrain: { valid: true, splitBrainExpected: true, windows: [{ ms: 800 }] },
    });
    const c = compare(results(v, v, v), good, expected);
    expect(c.findings).toEqual([]);
    expect(c.pass).toBe(true);
    // More than declared still fails.
    const worse = verdict(10_000, { dataLoss: { valid: false, lost: 6, reasons: ["6 acknowledged writes lost (allowed 5)"] } }, false);
    expect(compare(results(worse), good, expected).findings[0]!.message).toContain("6 acknowledged writes lost (the scenario allows 5)");
  });

  it("safetyFindings is empty for a clean run", () => {
    expect(safetyFindings(verdict(1000), {})).toEqual([]);
  });
});

describe("compare: expectations and failed runs", () => {
  it("a check beyond the scenario's bound fails as an expectation", () => {
    const slow = verdict(40_000, { failover: { valid: false, reasons: ["writes were unavailable for 40000 ms, more than maxWriteUnavailableMs 30000 ms"] } }, false);
    const c = compare(results(slow), baseline(40_000, 40_000), EXPECT);
    expect(c.pass).toBe(false);
    expect(c.findings).toEqual([expect.objectContaining({ kind: "expectation", message: expect.stringContaining("failover failed: writes were unavailable for 40000 ms") })]);
  });

  it("a run that threw is a finding, and the other runs still count", () => {
    const r = results(verdict(10_000), verdict(10_500));
    r[0]!.runs.push({ runDir: "/r/x", error: "timed out after 10.0 s waiting for steady state on the cluster" });
    const c = compare(r, baseline(10_000, 11_000), EXPECT);
    expect(c.pass).toBe(false);
    expect(c.findings).toEqual([expect.objectContaining({ kind: "run", run: 3, message: "run failed: timed out after 10.0 s waiting for steady state on the cluster" })]);
    expect(c.entries[0]!.distributions.writeUnavailableMs).toMatchObject({ n: 2 });
    expect(c.regressions).toEqual([]);
  });
});

describe("updatedBaseline", () => {
  it("records median and p95 of clean entries, keeps others and the file's tolerance", () => {
    const previous: Baseline = {
      description: "kept",
      tolerance: { relative: 0.3, absoluteMs: 1000 },
      scenarios: { "other/fast": { writeUnavailableMs: { median: 1, p95: 2 } }, [KEY]: { writeUnavailableMs: { median: 1, p95: 1 } } },
    };
    const clean = compare(results(verdict(9000), verdict(11_000), verdict(10_000)), previous, EXPECT, { updateBaseline: true });
    const u = updatedBaseline(previous, clean, ["writeUnavailableMs", "recoveryMs", "notAFigure"], new Date("2026-02-03T04:05:06Z"), { relative: 9, absoluteMs: 9 });
    expect(u.updated).toEqual([KEY]);
    expect(u.baseline.tolerance).toEqual(previous.tolerance);
    expect(u.baseline.description).toBe("kept");
    expect(u.baseline.scenarios[KEY]).toEqual({ writeUnavailableMs: { median: 10_000, p95: 11_000 }, recoveryMs: { median: 3000, p95: 3000 } });
    expect(u.baseline.scenarios["other/fast"]).toEqual(previous.scenarios["other/fast"]);
    expect(u.baseline.sources![KEY]).toEqual({ runs: 3, updatedAt: "2026-02-03T04:05:06.000Z" });
  });

  it("does not record an entry whose runs had findings; a new file gets the fallback tolerance", () => {
    const lossy = verdict(10_000, { dataLoss: { valid: false, lost: 1, reasons: ["lost"] } }, false);
    const c = compare(results(lossy), undefined, EXPECT, { updateBaseline: true });
    const u = updatedBaseline(undefined, c, ["writeUnavailableMs"], new Date(0), { relative: 0.5, absoluteMs: 2000 });
    expect(u.updated).toEqual([]);
    expect(u.skipped).toEqual([{ key: KEY, why: expect.stringContaining("1 acknowledged writes lost") }]);
    expect(u.baseline).toMatchObject({ tolerance: { relative: 0.5, absoluteMs: 2000 }, scenarios: {} });
  });
});
