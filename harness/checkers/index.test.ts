import { describe, expect, it } from "vitest";
import { combineValidity, defaultCheckers, runCheckers } from "./index.ts";
import { finalState, history, input, member, range } from "./test-history.ts";
import type { Checker } from "./types.ts";

describe("combineValidity", () => {
  it("ranks false over unknown over true", () => {
    expect(combineValidity()).toBe(true);
    expect(combineValidity(true, true)).toBe(true);
    expect(combineValidity(true, "unknown", true)).toBe("unknown");
    expect(combineValidity("unknown", false, true)).toBe(false);
    expect(combineValidity(false, "unknown")).toBe(false);
  });
});

describe("runCheckers", () => {
  const ok: Checker = () => ({ valid: true, figure: 1 });

  it("turns a checker that throws into unknown with the error, and keeps running the others", () => {
    const boom: Checker = () => {
      throw new Error("kaboom");
    };
    const out = runCheckers({ boom, ok }, input([]));
    expect(out.valid).toBe("unknown");
    expect(out.checks.boom).toEqual({ valid: "unknown", error: "kaboom", reasons: ["checker boom failed: kaboom"] });
    expect(out.checks.ok).toEqual({ valid: true, figure: 1 });
  });

  it("treats a result without a validity as unknown", () => {
    const bad = (() => ({ valid: "yes" })) as unknown as Checker;
    const out = runCheckers({ bad }, input([]));
    expect(out.checks.bad).toMatchObject({ valid: "unknown", error: 'checker returned no validity: "yes"' });
  });

  it("combines the verdicts", () => {
    const no: Checker = () => ({ valid: false, reasons: ["no"] });
    expect(runCheckers({ ok }, input([])).valid).toBe(true);
    expect(runCheckers({ ok, no }, input([])).valid).toBe(false);
    expect(runCheckers({}, input([])).valid).toBe(true);
  });

  /** n1 primary until the kill at 950, n2 writable from 2800; probes of both, a cluster sample before the fault. */
  const cleanFailover = () =>
    history()
      .cluster(900, [
        { name: "n1", role: "leader", timeline: 1 },
        { name: "n2", role: "replica", lagBytes: 0, timeline: 1 },
      ])
      .oks(1, 10, 0, 100, "n1")
      .nodeProbes("n1", "writable", 0, 901, 100, 5, 1)
      .nodeProbes("n1", "unreachable", 1000, 5000, 100)
      .nodeProbes("n2", "read-only", 0, 2800, 100)
      .nodeProbes("n2", "writable", 2800, 5000, 100, 5, 2)
      .fault("inject", 950)
      .write(11, "info", 1000)
      .oks(12, 5, 3000, 100, "n2")
      .fault("heal", 5000);

  it("runs the default checkers on a clean failover", () => {
    const h = cleanFailover().build();
    const ids = [...range(1, 10), ...range(12, 16)];
    const final = finalState("n2", [member("n1", "replica", ids, 2), member("n2", "leader", ids, 2)]);
    const out = runCheckers(defaultCheckers, input(h, final, { maxWriteUnavailableMs: 5000, lostWrites: 0, maximumLagOnFailover: 1024 }));
    expect(Object.keys(out.checks)).toEqual(["failover", "dataLoss", "divergence", "splitBrain", "lag"]);
    expect(out.checks.failover).toMatchObject({ valid: true, oldPrimary: "n1", newPrimary: "n2" });
    expect(out.checks.splitBrain).toMatchObject({ valid: true, windows: [], writableNodesAtEnd: ["n2"] });
    expect(out.checks.lag).toMatchObject({ valid: true, maxLagBytes: 0, withinBound: true });
    expect(out.valid).toBe(true);

    // The same run where n1 stayed writable after n2 took over is a split-brain.
    const split = cleanFailover().nodeProbes("n1", "writable", 5000, 6000, 100, 5, 1).nodeProbes("n2", "writable", 5000, 6000, 100, 5, 2).build();
    const twoPrimaries = runCheckers(defaultCheckers, input(split, final, { maxWriteUnavailableMs: 5000 }));
    expect(twoPrimaries.valid).toBe(false);
    expect(twoPrimaries.checks.splitBrain).toMatchObject({ valid: false, windows: [expect.objectContaining({ nodes: ["n1", "n2"] })] });

    // The same run with acknowledged id 5 missing everywhere must fail.
    const lossy = ids.filter((id) => id !== 5);
    const lost = finalState("n2", [member("n1", "replica", lossy, 2), member("n2", "leader", lossy, 2)]);
    const bad = runCheckers(defaultCheckers, input(h, lost, { maxWriteUnavailableMs: 5000 }));
    expect(bad.valid).toBe(false);
    expect(bad.checks.dataLoss).toMatchObject({ valid: false, lostIds: [5] });
    expect(bad.checks.divergence!.valid).toBe(true);
  });
});
