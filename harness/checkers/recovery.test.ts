import { describe, expect, it } from "vitest";
import { HistoryBuilder } from "./test-history.ts";
import { check } from "../scenario/verdict.ts";
import type { FinalState } from "./types.ts";

const final: FinalState = { leader: "n2", members: [], time: 0 };

describe("recovery, read from the history", () => {
  it("fails a run whose history records that the cluster did not become whole again", () => {
    const h = new HistoryBuilder()
      .oks(1, 5, 0, 10, "n1")
      .add({ at: 100, process: "runner", type: "info", f: "recovery", value: { recovered: false, timeoutMs: 60_000, reason: "not streaming yet: n3:stopped" } })
      .build();
    const r = check(h, final, {});
    expect(r.checks.recovery).toMatchObject({ valid: false });
    expect(r.checks.recovery!.reasons![0]).toMatch(/within 60000 ms of the last heal: not streaming yet: n3:stopped/);
    expect(r.valid).toBe(false);
  });

  it("passes with the recorded recovery time, and is absent from histories that have no recovery phase", () => {
    const ok = new HistoryBuilder().oks(1, 5, 0, 10, "n1").add({ at: 100, process: "runner", type: "info", f: "recovery", value: { recovered: true, recoveryMs: 2345, timeoutMs: 60_000 } }).build();
    expect(check(ok, final, {}).checks.recovery).toEqual({ valid: true, recoveryMs: 2345 });
    const none = new HistoryBuilder().oks(1, 5, 0, 10, "n1").build();
    expect(check(none, final, {}).checks.recovery).toBeUndefined();
  });
});
