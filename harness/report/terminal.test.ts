import { afterEach, describe, expect, it, vi } from "vitest";
import type { Verdict } from "../scenario/verdict.ts";
import { figures, renderVerdict } from "./terminal.ts";

const ESC = "\x1b[";
const stream = (isTTY: boolean) => ({ isTTY, write: () => true }) as unknown as NodeJS.WriteStream;
const pipe = stream(false);

function verdict(over: Partial<Verdict> = {}): Verdict {
  return {
    scenario: "primary-kill",
    platform: "local",
    profile: "fast",
    startedAt: "2026-01-01T00:00:00.000Z",
    valid: true,
    expectations: {},
    settings: {},
    checks: {
      failover: { valid: true, writeUnavailableMs: 9_876, oldPrimary: "n1", newPrimary: "n2", timeToNewPrimaryMs: 8_000, reasons: ["should not show"] },
      dataLoss: { valid: true, acknowledged: 500, lost: 0, indeterminate: 2, indeterminateCommitted: 1 },
    },
    run: { phases: [], readyMs: 21_000, teardownMs: 1_500, writes: { attempts: 510, ok: 500, fail: 8, info: 2, ratePerSec: 97.3 } },
    ...over,
  };
}

const lineOf = (text: string, name: string) => text.split("\n").find((l) => l.trimStart().startsWith(name)) ?? "";

afterEach(() => vi.unstubAllEnvs());

describe("renderVerdict", () => {
  it("a passing run: PASS, figures, probe line and run directory, no escapes", () => {
    const text = renderVerdict(verdict(), "/reports/primary-kill/2026", pipe);
    expect(text).toContain("primary-kill on local, profile fast: PASS");
    expect(renderVerdict(verdict({ stack: "patroni@4.1.5" }), "/r", pipe)).toContain("primary-kill on local with patroni@4.1.5, profile fast: PASS");
    expect(lineOf(text, "failover")).toMatch(/PASS\s+writes unavailable 9\.88 s, n1 → n2, new primary writable after 8\.00 s/);
    expect(lineOf(text, "dataLoss")).toMatch(/PASS\s+500 acknowledged, 0 lost, 2 indeterminate \(1 committed\)/);
    expect(text).toContain("probe: 510 writes at 97.3/s (500 ok, 8 failed, 2 unknown); cluster ready 21.00 s, teardown 1.50 s");
    expect(text).toContain("run directory: /reports/primary-kill/2026");
    expect(text).not.toContain("should not show"); // reasons of a passing check stay hidden
    expect(text).not.toContain("↳");
    expect(text).not.toContain(ESC);
  });

  it("a failing run: FAIL, and the reasons of the failing check only", () => {
    const v = verdict({
      valid: false,
      checks: {
        failover: { valid: true, writeUnavailableMs: 1000, reasons: ["passing reason"] },
        dataLoss: { valid: false, acknowledged: 10, lost: 2, indeterminate: 0, indeterminateCommitted: 0, reasons: ["2 acknowledged writes lost (allowed 0): 4, 7", "second reason"] },
      },
    });
    const text = renderVerdict(v, "/r", pipe);
    expect(text).toContain("primary-kill on local, profile fast: FAIL");
    expect(lineOf(text, "dataLoss")).toContain("FAIL");
    expect(lineOf(text, "failover")).toContain("PASS");
    expect(text).toContain("↳ 2 acknowledged writes lost (allowed 0): 4, 7");
    expect(text).toContain("↳ second reason");
    expect(text).not.toContain("passing reason");
    // Reasons follow their own check.
    const lines = text.split("\n");
    expect(lines.findIndex((l) => l.includes("second reason"))).toBe(lines.findIndex((l) => l.trimStart().startsWith("dataLoss")) + 2);
    expect(text).not.toContain(ESC);
  });

  it("an unknown check and run: UNKNOWN, with its reasons and the run error", () => {
    const v = verdict({
      valid: "unknown",
      checks: { divergence: { valid: "unknown", reasons: ["no leader in the final state: nothing to compare members with"] } },
      run: { phases: [], error: "teardown failed: busy", writes: { attempts: 0, ok: 0, fail: 0, info: 0, ratePerSec: 0 } },
    });
    const text = renderVerdict(v, "/r", pipe);
    expect(text).toContain(": UNKNOWN");
    expect(lineOf(text, "divergence")).toContain("UNKNOWN");
    expect(text).toContain("↳ no leader in the final state");
    expect(text).toContain("run error: teardown failed: busy");
    expect(text).toContain("cluster ready -, teardown -");
    expect(text).not.toContain(ESC);
  });

  it("colours the marks on a terminal, and not with NO_COLOR", () => {
    vi.stubEnv("NO_COLOR", undefined);
    const tty = renderVerdict(verdict({ valid: false }), "/r", stream(true));
    expect(tty).toContain(`${ESC}31mFAIL${ESC}0m`);
    expect(tty).toContain(`${ESC}32mPASS${ESC}0m`);
    vi.stubEnv("NO_COLOR", "1");
    expect(renderVerdict(verdict(), "/r", stream(true))).not.toContain(ESC);
  });
});

describe("figures", () => {
  it("says what is missing", () => {
    expect(figures("failover", { valid: "unknown" })).toBe("writes unavailable -, ? → none, new primary writable after -");
    expect(figures("recovery", { valid: false })).toBe("");
    expect(figures("recovery", { valid: true, recoveryMs: 2500 })).toBe("whole again 2.50 s after the last heal");
    expect(figures("something-else", { valid: true })).toBe("");
  });

  it("lists divergence per member", () => {
    const c = {
      valid: false as const,
      leader: "n2",
      leaderTimeline: 3,
      members: [
        { node: "n1", extra: 2, missing: 0, sameTimeline: false },
        { node: "n3", extra: 0, missing: 1, sameTimeline: true },
      ],
    };
    expect(figures("divergence", c)).toBe("leader n2 tl 3; n1: +2/-0 other timeline, n3: +0/-1");
    expect(figures("divergence", { valid: true, leader: "n2", leaderTimeline: 3, members: [] })).toBe("leader n2 tl 3; no members");
  });
});

describe("the lag figure", () => {
  it("names Patroni's bound where the cluster has one, and says there is none where it has not (CloudNativePG)", () => {
    expect(figures("lag", { valid: true, maxLagBytes: 2040, bound: 1048576 })).toBe("replica lag before the fault 2040 bytes (maximum_lag_on_failover 1048576)");
    expect(figures("lag", { valid: true, maxLagBytes: 2040 })).toBe("replica lag before the fault 2040 bytes (no lag bound on failover)");
  });
});
