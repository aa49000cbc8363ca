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

  it("runs the default checkers on a clean failover", () => {
    const h = history()
      .oks(1, 10, 0, 100, "n1")
      .fault("inject", 950)
      .write(11, "info", 1000)
      .oks(12, 5, 3000, 100, "n2")
      .fault("heal", 5000)
      .build();
    const ids = [...range(1, 10), ...range(12, 16)];
    const final = finalState("n2", [member("n1", "replica", ids, 2), member("n2", "leader", ids, 2)]);
    const out = runCheckers(defaultCheckers, input(h, final, { maxWriteUnavailableMs: 5000, lostWrites: 0 }));
    expect(Object.keys(out.checks)).toEqual(["failover", "dataLoss", "divergence"]);
    expect(out.checks.failover).toMatchObject({ valid: true, oldPrimary: "n1", newPrimary: "n2" });
    expect(out.valid).toBe(true);

    // The same run with acknowledged id 5 missing everywhere must fail.
    const lossy = ids.filter((id) => id !== 5);
    const lost = finalState("n2", [member("n1", "replica", lossy, 2), member("n2", "leader", lossy, 2)]);
    const bad = runCheckers(defaultCheckers, input(h, lost, { maxWriteUnavailableMs: 5000 }));
    expect(bad.valid).toBe(false);
    expect(bad.checks.dataLoss).toMatchObject({ valid: false, lostIds: [5] });
    expect(bad.checks.divergence!.valid).toBe(true);
  });
});
