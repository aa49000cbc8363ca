import { describe, expect, it } from "vitest";
import { failover } from "./failover.ts";
import { history, input, T0 } from "./test-history.ts";

/** n1 acknowledges ids 1-10 (ok at 2..902), kill at 950, one failed and one maybe-committed write,
 * n2 writable at 2800 and acknowledging from 3002, heal at 5000. */
function cleanFailover() {
  return history()
    .oks(1, 10, 0, 100, "n1")
    .probe("n1", "writable", 500)
    .fault("inject", 950)
    .write(11, "fail", 1000)
    .probe("n1", "fail", 1200)
    .probe("n2", "read-only", 1300)
    .write(12, "info", 1500)
    .probe("n2", "writable", 2800)
    .oks(13, 10, 3000, 100, "n2")
    .fault("heal", 5000);
}

describe("failover", () => {
  it("measures a clean failover from n1 to n2", () => {
    const r = failover(input(cleanFailover().build()));
    expect(r).toMatchObject({
      valid: true,
      fault: "kill",
      faultAt: T0 + 950,
      healedAt: T0 + 5000,
      writeUnavailableMs: 2100,
      windowStart: T0 + 902,
      windowEnd: T0 + 3002,
      oldPrimary: "n1",
      newPrimary: "n2",
      primaryChanged: true,
      timeToNewPrimaryMs: 1850,
      timeToNewPrimarySource: "node-probe",
      failedWrites: 1,
      indeterminateWrites: 1,
    });
    expect(r.reasons).toBeUndefined();
  });

  it("passes within maxWriteUnavailableMs and fails over it, quoting both numbers", () => {
    expect(failover(input(cleanFailover().build(), undefined, { maxWriteUnavailableMs: 2100 })).valid).toBe(true);
    const r = failover(input(cleanFailover().build(), undefined, { maxWriteUnavailableMs: 2000 }));
    expect(r.valid).toBe(false);
    expect(r.reasons).toEqual(["writes were unavailable for 2100 ms, more than maxWriteUnavailableMs 2000 ms"]);
    expect(r.writeUnavailableMs).toBe(2100);
  });

  it("falls back to the first write on the new primary without node probes", () => {
    const h = history().oks(1, 5, 0, 100, "n1").fault("inject", 450).oks(6, 5, 2000, 100, "n2").build();
    const r = failover(input(h));
    expect(r).toMatchObject({ timeToNewPrimaryMs: 2002 - 450, timeToNewPrimarySource: "write", writeUnavailableMs: 2002 - 402 });
  });

  it("for a restart in place, ignores the old primary's writable probes from before it went down", () => {
    const h = history()
      .oks(1, 10, 0, 100, "n1")
      .fault("inject", 950)
      .probe("n1", "writable", 980)
      .probe("n1", "fail", 1100)
      .probe("n1", "read-only", 2000)
      .probe("n1", "writable", 2500)
      .oks(11, 5, 2600, 100, "n1")
      .build();
    const r = failover(input(h));
    expect(r).toMatchObject({ oldPrimary: "n1", newPrimary: "n1", primaryChanged: false, timeToNewPrimaryMs: 1550, writeUnavailableMs: 1700 });
  });

  it("picks the longest outage from the fault to the end of the run (one after the heal counts), never one before the fault", () => {
    const h = history()
      .oks(1, 2, 0, 100, "n1") // ok at 2, 102
      .oks(3, 2, 5000, 100, "n1") // 4898 ms gap before the fault: not the fault's
      .fault("inject", 5150)
      .oks(5, 2, 5500, 100, "n2") // straddling gap 5102 -> 5502
      .oks(7, 1, 6500, 100, "n2") // gap 5602 -> 6502 inside the window
      .fault("heal", 7000)
      .oks(8, 1, 7100, 100, "n2") // gap 6502 -> 7102 overlaps the heal
      .oks(9, 1, 12000, 100, "n2") // 4900 ms outage after the heal: healing caused it
      .build();
    const r = failover(input(h));
    expect(r).toMatchObject({ writeUnavailableMs: 4900, windowStart: T0 + 7102, windowEnd: T0 + 12002, oldPrimary: "n2", newPrimary: "n2" });
    expect((r.outages as Array<{ ms: number }>).map((o) => o.ms)).toEqual([900, 600, 4900]);
  });

  it("ends the window at the heal of the same fault, not of another one", () => {
    const h = history()
      .oks(1, 10, 0, 100, "n1")
      .fault("inject", 950, "kill")
      .fault("heal", 960, "partition")
      .oks(11, 11, 1000, 100, "n2") // ok at 1002 .. 2002
      .oks(22, 2, 4000, 100, "n2") // gap 2002 -> 4002 still inside the kill window
      .fault("heal", 5000, "kill")
      .build();
    const r = failover(input(h));
    expect(r).toMatchObject({ writeUnavailableMs: 2000, healedAt: T0 + 5000 });
  });

  it("without a heal, the window runs to the last entry", () => {
    const h = history()
      .oks(1, 10, 0, 100, "n1")
      .fault("inject", 950)
      .oks(11, 11, 1000, 100, "n2")
      .oks(22, 2, 4000, 100, "n2")
      .build();
    expect(failover(input(h))).toMatchObject({ writeUnavailableMs: 2000, healedAt: undefined });
  });

  it("fails when writes never recover, measuring up to the last entry", () => {
    const h = history()
      .oks(1, 10, 0, 100, "n1")
      .fault("inject", 950)
      .write(11, "fail", 1000)
      .write(12, "fail", 2000)
      .write(13, "info", 3000)
      .write(14, "none", 4000)
      .phase("teardown", 6000)
      .build();
    const r = failover(input(h, undefined, { maxWriteUnavailableMs: 60_000 }));
    expect(r).toMatchObject({
      valid: false,
      reasons: [expect.stringMatching(/^writes never recovered after the fault/)],
      writeUnavailableMs: 6000 - 902,
      oldPrimary: "n1",
      failedWrites: 2,
      indeterminateWrites: 1,
    });
    expect(r.newPrimary).toBeUndefined();
  });

  it("fails when writes went on for a while during the fault, then failed until the run ended", () => {
    // The shape of a DCS quorum loss: the primary takes writes until Patroni demotes it, and the run
    // ends before it is promoted again. Gaps between the early writes are short; the outage is not.
    const h = history()
      .oks(1, 10, 0, 100, "n1")
      .fault("inject", 950)
      .oks(11, 20, 1000, 100, "n1")
      .write(31, "fail", 3100)
      .write(32, "fail", 4000)
      .fault("heal", 5000)
      .write(33, "fail", 9000)
      .build();
    const r = failover(input(h, undefined, { maxWriteUnavailableMs: 60_000 }));
    expect(r.valid).toBe(false);
    expect(r.reasons).toEqual([expect.stringMatching(/never recovered.*still failing when the run ended/)]);
    expect(r.writeUnavailableMs).toBe(9000 - 2900);
    expect(r.failedWrites).toBe(3);
  });

  it("is unknown without a fault or without a write acknowledged before it", () => {
    const noFault = failover(input(history().oks(1, 5, 0, 100, "n1").fault("heal", 600).build()));
    expect(noFault).toMatchObject({ valid: "unknown", reasons: ["no fault in history"] });
    const noOkBefore = failover(input(history().write(1, "fail", 0).fault("inject", 100).oks(2, 3, 200, 100, "n2").build()));
    expect(noOkBefore).toMatchObject({ valid: "unknown", reasons: ["no acknowledged write before the fault"] });
  });
});
