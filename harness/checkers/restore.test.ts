import { describe, expect, it } from "vitest";
import { dataLoss } from "./data-loss.ts";
import { failover } from "./failover.ts";
import { CLOCK_TOLERANCE_MS, parseLsn, pointInTime, recoveryPoint, segmentStart, switchPoint } from "./restore.ts";
import { T0, finalState, history, input, member, range } from "./test-history.ts";
import type { FinalState } from "./types.ts";
import { toRanges } from "./ranges.ts";

/**
 * A disaster recovery: ids 1-100 acknowledged on timeline 1 (one every 10 ms from 0), a backup at 150 ms, the disaster at
 * 1000 ms (writes 101-150 fail while the cluster is gone), the restore from 1600 ms, writes 151-200 acknowledged on
 * timeline 2 from 2000 ms. The point-in-time restore's target is `target` ms.
 */
function disasterHistory(opts: { archiveEnd?: string; pitr?: { target: number; ids: number[] } } = {}) {
  const h = history();
  for (let i = 0; i < 100; i++) h.write(i + 1, "ok", i * 10, "n1", 1);
  h.add({ at: 150, process: "nemesis", type: "info", f: "fault", value: { fault: "backup", phase: "inject", target: "primary", nodes: ["n1"] } });
  h.add({ at: 500, process: "nemesis", type: "info", f: "backup", value: { label: "20261130-165213F", ms: 300 } });
  h.add({ at: 500, process: "nemesis", type: "info", f: "fault", value: { fault: "backup", phase: "heal", target: "primary", nodes: ["n1"] } });
  h.add({ at: 1000, process: "nemesis", type: "info", f: "fault", value: { fault: "disaster", phase: "inject", target: "all", nodes: ["n1", "n2", "n3"] } });
  for (let i = 0; i < 50; i++) h.write(101 + i, "fail", 1005 + i * 10);
  h.add({ at: 1200, process: "nemesis", type: "info", f: "disaster", value: { archiveEnd: opts.archiveEnd ?? "000000010000000000000004", pitrTarget: T0 + 500 } });
  h.add({ at: 1600, process: "nemesis", type: "info", f: "restore", value: { kind: "latest", phase: "start" } });
  for (let i = 0; i < 50; i++) h.write(151 + i, "ok", 2000 + i * 10, "n2", 2);
  h.add({ at: 3000, process: "nemesis", type: "info", f: "restore", value: { kind: "latest", phase: "ready", leader: "n2", ms: 1400 } });
  if (opts.pitr) h.add({ at: 3500, process: "nemesis", type: "info", f: "restore", value: { kind: "point-in-time", target: T0 + opts.pitr.target, ids: toRanges(opts.pitr.ids), ms: 900 } });
  h.add({ at: 3600, process: "nemesis", type: "info", f: "fault", value: { fault: "disaster", phase: "heal", target: "all", nodes: ["n1", "n2", "n3"] } });
  return h.build();
}

/** The restored cluster's leader holds `ids`; it left timeline 1 for 2 at `switchLsn`. */
function restored(ids: number[], switchLsn = "0/5000000"): FinalState {
  const leader = { ...member("n2", "leader", ids, 2), timelineHistory: `1\t${switchLsn}\tno recovery target specified\n` };
  return finalState("n2", [member("n1", "replica", ids, 2), leader, member("n3", "replica", ids, 2)]);
}

describe("WAL positions", () => {
  it("reads LSNs, segment names and timeline history files", () => {
    expect(parseLsn("0/5000108")).toBe(0x5000108n);
    expect(parseLsn("1/0")).toBe(1n << 32n);
    expect(segmentStart("000000010000000000000004")).toEqual({ timeline: 1, lsn: 0x4000000n });
    expect(segmentStart("0000000200000001000000FF")).toEqual({ timeline: 2, lsn: (1n << 32n) + 0xffn * 16n * 1024n * 1024n });
    expect(switchPoint("1\t0/5000000\tno recovery target specified\n2\t0/7000A0\tpromoted\n", 2)).toBe(0x7000a0n);
    expect(switchPoint("1\t0/5000000\treason\n", 3)).toBeUndefined();
    expect(() => segmentStart("00000001")).toThrow(/not a WAL segment name/);
  });
});

describe("recoveryPoint", () => {
  it("passes a restore that brought back every write up to a point and replayed the archive to its last segment", () => {
    // Writes 81-100 (acknowledged 802 to 992 ms) were in the segment no member had archived.
    const r = recoveryPoint(input(disasterHistory(), restored([...range(1, 80), ...range(151, 200)]), { maxRecoveryPointMs: 500 }));
    expect(r).toMatchObject({
      valid: true,
      recoveryPointId: 80,
      lastAcknowledgedId: 100,
      lostAfterRecoveryPoint: 20,
      recoveryPointMs: 200,
      archiveEnd: "000000010000000000000004",
      restoredToLsn: "0/5000000",
      restoreReadyMs: 1400,
      restoreMs: 402,
      backup: { label: "20261130-165213F" },
    });
  });

  it("fails a restore with a hole: a write acknowledged before the recovery point is missing", () => {
    const r = recoveryPoint(input(disasterHistory(), restored([...range(1, 40), ...range(42, 80), ...range(151, 200)])));
    expect(r.valid).toBe(false);
    expect(r.reasons).toEqual([expect.stringMatching(/^1 writes acknowledged before the recovery point \(write 80\) are missing.*ids 41/)]);
  });

  it("fails a restore whose recovery ended before the archive's last segment", () => {
    const r = recoveryPoint(input(disasterHistory({ archiveEnd: "000000010000000000000006" }), restored([...range(1, 80), ...range(151, 200)], "0/5000000")));
    expect(r.valid).toBe(false);
    expect(r.reasons).toEqual([expect.stringMatching(/recovery ended at 0\/5000000, before the archive's last segment 000000010000000000000006 \(which starts at 0\/6000000\)/)]);
  });

  it("fails a restore that lost more time of writes than the scenario allows, or everything", () => {
    const late = recoveryPoint(input(disasterHistory(), restored([...range(1, 30), ...range(151, 200)]), { maxRecoveryPointMs: 500 }));
    expect(late.valid).toBe(false);
    expect(late.reasons).toEqual([expect.stringMatching(/^the restore lost 700 ms of acknowledged writes \(70 writes after write 30\), more than the 500 ms allowed/)]);
    const none = recoveryPoint(input(disasterHistory(), restored(range(151, 200))));
    expect(none.valid).toBe(false);
    expect(none.reasons).toContain("no write acknowledged before the disaster came back: the restore lost everything");
  });

  it("is unknown where the restored leader's timeline history was not read, or the archive ended on another timeline", () => {
    const f = restored([...range(1, 80), ...range(151, 200)]);
    delete f.members[1]!.timelineHistory;
    expect(recoveryPoint(input(disasterHistory(), f)).valid).toBe("unknown");
    const other = recoveryPoint(input(disasterHistory({ archiveEnd: "000000020000000000000004" }), restored([...range(1, 80), ...range(151, 200)])));
    expect(other).toMatchObject({ valid: "unknown", reasons: [expect.stringMatching(/is on timeline 2, the last write before the disaster on timeline 1/)] });
  });

  it("takes a write acknowledged only after the restore began for the restored cluster's, not for one from before the disaster", () => {
    // Write 150 was sent before the restore (at 1495 ms) and answered by the restored cluster at 1700 ms.
    const h = disasterHistory().filter((e) => !(e.f === "write" && e.value === 150 && e.type !== "invoke"));
    h.push({ index: h.length, time: T0 + 1700, process: "writer", type: "ok", f: "write", value: 150, node: "n2", timeline: 2 });
    const r = recoveryPoint(input(h, restored([...range(1, 80), ...range(150, 200)])));
    expect(r).toMatchObject({ valid: true, recoveryPointId: 80, lastAcknowledgedId: 100, holes: [] });
  });
});

describe("dataLoss after a restore", () => {
  it("leaves the writes after the recovery point to the recoveryPoint check, and counts every other loss", () => {
    const ok = dataLoss(input(disasterHistory(), restored([...range(1, 80), ...range(151, 200)])));
    expect(ok).toMatchObject({ valid: true, lost: 0, lostAfterRecoveryPoint: 20 });
    // A hole is a loss however the restore went; so is a write acknowledged after the restore.
    const hole = dataLoss(input(disasterHistory(), restored([...range(1, 40), ...range(42, 80), ...range(151, 199)])));
    expect(hole).toMatchObject({ valid: false, lost: 2, lostIds: [41, 200] });
  });
});

describe("dataLoss after a restore, for the writes each node acknowledged directly", () => {
  it("leaves those acknowledged after the recovery point began to recoveryPoint, and counts the others", () => {
    // n1's probe wrote seq 1 to 10 directly to it, one every 100 ms from 5 ms: seqs 1-8 were acknowledged before write 80
    // (the recovery point) began at 790 ms; 9 and 10 after.
    const h = history();
    for (let i = 0; i < 10; i++) h.nodeProbe("n1", "writable", 5 + i * 100, 6 + i * 100, 1);
    const base = disasterHistory();
    const all = [...base, ...h.build()].sort((a, b) => a.time - b.time).map((e, index) => ({ ...e, index }));
    const final = (seqs: number[]) => ({ ...restored([...range(1, 80), ...range(151, 200)]), leaderProbeWrites: { n1: toRanges(seqs) } });
    expect(dataLoss(input(all, final(range(1, 8))))).toMatchObject({ valid: true, lostDirect: 0 });
    expect(dataLoss(input(all, final([...range(1, 7), 9, 10])))).toMatchObject({ valid: false, lostDirect: 1, lostDirectByNode: { n1: [8] } });
  });
});

describe("pointInTime", () => {
  it("passes a restore to a time that holds exactly the writes acknowledged by then", () => {
    // Target 505 ms: write 51 (invoked at 500, acknowledged at 502) and 52 (invoked at 510) are within the clock
    // tolerance of it, and not judged.
    const r = pointInTime(input(disasterHistory({ pitr: { target: 505, ids: range(1, 51) } })));
    expect(r).toMatchObject({ valid: true, target: new Date(T0 + 505).toISOString(), targetWrite: 50, rows: 51, undecided: 2, ms: 900, toleranceMs: CLOCK_TOLERANCE_MS });
  });

  it("widens the writes it does not judge by the difference of the two clocks recorded with the target", () => {
    const h = disasterHistory();
    h.push({ index: h.length, time: T0 + 3700, process: "nemesis", type: "info", f: "restore", value: { kind: "point-in-time", target: T0 + 505, clockOffsetMs: -20, ids: toRanges(range(1, 52)) } });
    // Writes 49 to 54 are within 25 ms of the target: 52 present is not a write begun after it.
    expect(pointInTime(input(h))).toMatchObject({ valid: true, targetWrite: 48, undecided: 6, toleranceMs: CLOCK_TOLERANCE_MS + 20 });
  });

  it("fails a restore that lacks a write acknowledged before its target", () => {
    const r = pointInTime(input(disasterHistory({ pitr: { target: 555, ids: range(1, 50) } })));
    expect(r.valid).toBe(false);
    expect(r.reasons).toEqual([expect.stringMatching(/^5 writes acknowledged before the target .* are missing from the restore to it: ids 51, 52, 53, 54, 55/)]);
  });

  it("fails a restore that went past its target", () => {
    const r = pointInTime(input(disasterHistory({ pitr: { target: 555, ids: range(1, 59) } })));
    expect(r.valid).toBe(false);
    expect(r.reasons).toEqual([expect.stringMatching(/^2 writes begun after the target .* are in the restore to it: ids 58, 59/)]);
  });

  it("is unknown when no point-in-time restore was recorded, and fails one that failed", () => {
    expect(pointInTime(input(disasterHistory())).valid).toBe("unknown");
    const h = disasterHistory();
    h.push({ index: h.length, time: T0 + 3700, process: "nemesis", type: "info", f: "restore", value: { kind: "point-in-time", target: T0 + 500, error: "recovery ended before configured recovery target was reached" } });
    expect(pointInTime(input(h))).toEqual({ valid: false, reasons: ["the point-in-time restore failed: recovery ended before configured recovery target was reached"] });
  });
});

describe("failover in a disaster recovery", () => {
  it("measures the outage from the disaster, not from the backup before it", () => {
    const r = failover(input(disasterHistory(), restored([...range(1, 80), ...range(151, 200)])));
    expect(r).toMatchObject({ fault: "disaster", faultAt: T0 + 1000, oldPrimary: "n1", newPrimary: "n2" });
    expect(r.writeUnavailableMs).toBe(1010);
  });
});
