import { describe, expect, it } from "vitest";
import { history } from "../checkers/test-history.ts";
import { writeFigures } from "./verdict.ts";

describe("writeFigures", () => {
  it("counts write attempts and outcomes, ignoring other entries", () => {
    const h = history()
      .phase("warm-up", 0)
      .write(1, "ok", 0, "n1")
      .write(2, "ok", 100, "n1")
      .fault("inject", 150)
      .probe("n1", "unreachable", 160)
      .write(3, "fail", 200)
      .write(4, "info", 300)
      .write(5, "none", 400)
      .write(6, "ok", 500, "n2")
      .build();
    const w = writeFigures(h);
    expect(w).toMatchObject({ attempts: 6, ok: 3, fail: 1, info: 1 });
    // 6 invokes over 0.5 s between the first and the last invoke.
    expect(w.ratePerSec).toBe(12);
  });

  it("rounds the rate to a tenth", () => {
    const h = history().oks(1, 10, 0, 100, "n1").build(); // 10 invokes over 0.9 s
    expect(writeFigures(h).ratePerSec).toBe(11.1);
  });

  it("has a zero rate without a time span", () => {
    expect(writeFigures([])).toEqual({ attempts: 0, ok: 0, fail: 0, info: 0, ratePerSec: 0 });
    expect(writeFigures(history().write(1, "ok", 0, "n1").build())).toEqual({ attempts: 1, ok: 1, fail: 0, info: 0, ratePerSec: 0 });
    const sameInstant = history().write(1, "none", 5).write(2, "none", 5).build();
    expect(writeFigures(sameInstant)).toMatchObject({ attempts: 2, ratePerSec: 0 });
  });
});

describe("evaluateExpectations", () => {
  it("says which expectations held and which were violated, with what was observed", async () => {
    const { evaluateExpectations } = await import("./verdict.ts");
    const r = evaluateExpectations(
      { maxWriteUnavailableMs: 10_000, lostWrites: 0, divergence: false, splitBrain: false },
      {
        failover: { valid: false, writeUnavailableMs: 12_000 },
        dataLoss: { valid: false, lost: 3 },
        divergence: { valid: true },
        splitBrain: { valid: false, windows: [{ nodes: ["n1", "n2"] }] },
      },
    );
    expect(r).toEqual([
      { expectation: "maxWriteUnavailableMs", expected: "≤ 10000 ms", observed: "12000 ms", held: false },
      { expectation: "lostWrites", expected: "≤ 0", observed: "3", held: false },
      { expectation: "divergence", expected: "none", observed: "none", held: true },
      { expectation: "splitBrain", expected: "never two writable nodes", observed: "1 window(s)", held: false },
    ]);
  });

  it("an expectation whose check could not run is unknown, not held", async () => {
    const { evaluateExpectations } = await import("./verdict.ts");
    const r = evaluateExpectations({ lostWrites: 0 }, { dataLoss: { valid: "unknown" } });
    expect(r.find((x) => x.expectation === "lostWrites")!.held).toBe("unknown");
    expect(r.find((x) => x.expectation === "splitBrain")!.held).toBe("unknown");
  });
});
