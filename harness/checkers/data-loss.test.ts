import { describe, expect, it } from "vitest";
import { dataLoss } from "./data-loss.ts";
import { finalState, history, input, member, range } from "./test-history.ts";

/** ids 1-10 acknowledged, 11 failed, 12 and 13 maybe committed, 14 invoked and never completed. */
const writes = () =>
  history()
    .oks(1, 10, 0, 100, "n1")
    .fault("inject", 950)
    .write(11, "fail", 1000)
    .write(12, "info", 1100)
    .write(13, "info", 1200)
    .write(14, "none", 1300)
    .build();

const onLeader = (ids: number[]) => finalState("n2", [member("n1", "replica", ids, 3), member("n2", "leader", ids, 3)]);

describe("dataLoss", () => {
  it("passes when every acknowledged write survived; indeterminate writes count either way", () => {
    const r = dataLoss(input(writes(), onLeader([...range(1, 10), 12, 14])));
    expect(r).toEqual({
      valid: true,
      leader: "n2",
      acknowledged: 10,
      lost: 0,
      lostIds: [],
      indeterminate: 3,
      indeterminateCommitted: 2,
      failed: 1,
      failedButPresent: [],
      unexpected: [],
    });
    expect(dataLoss(input(writes(), onLeader(range(1, 10)))).valid).toBe(true);
  });

  it("reads the leader's ids, not another member's", () => {
    const final = finalState("n2", [member("n1", "replica", range(1, 10), 3), member("n2", "leader", range(1, 9), 3)]);
    expect(dataLoss(input(writes(), final))).toMatchObject({ valid: false, lostIds: [10] });
  });

  it("fails on lost acknowledged writes, naming them", () => {
    const r = dataLoss(input(writes(), onLeader([1, 2, 3, 5, 6, 8, 9, 10])));
    expect(r).toMatchObject({ valid: false, lost: 2, lostIds: [4, 7] });
    expect(r.reasons).toEqual(["2 acknowledged writes lost (allowed 0): ids 4, 7"]);
  });

  it("honours expect.lostWrites", () => {
    const final = onLeader([1, 2, 3, 5, 6, 8, 9, 10]);
    expect(dataLoss(input(writes(), final, { lostWrites: 2 })).valid).toBe(true);
    expect(dataLoss(input(writes(), final, { lostWrites: 1 })).reasons).toEqual(["2 acknowledged writes lost (allowed 1): ids 4, 7"]);
  });

  it("names only the first 20 lost ids but reports all of them in lostIds", () => {
    const h = history().oks(1, 30, 0, 10, "n1").build();
    const r = dataLoss(input(h, onLeader([])));
    expect(r.lostIds).toEqual(range(1, 30));
    expect(r.reasons).toEqual([`30 acknowledged writes lost (allowed 0): ids ${range(1, 20).join(", ")}, ... (first 20 of 30)`]);
  });

  it("fails when a write reported as failed is present", () => {
    const r = dataLoss(input(writes(), onLeader([...range(1, 10), 11])));
    expect(r).toMatchObject({ valid: false, failedButPresent: [11], lost: 0 });
    expect(r.reasons).toEqual(["1 writes reported as failed are present on the leader: ids 11"]);
  });

  it("fails on ids that were never written", () => {
    const r = dataLoss(input(writes(), onLeader([...range(1, 10), 99, 100])));
    expect(r).toMatchObject({ valid: false, unexpected: [99, 100] });
    expect(r.reasons).toEqual(["2 ids on the leader were never written by the probe: ids 99, 100"]);
  });

  it("lists every finding when several go wrong", () => {
    const r = dataLoss(input(writes(), onLeader([...range(2, 10), 11, 50])));
    expect(r.reasons).toHaveLength(3);
  });

  it("is unknown when the leader's contents are not known", () => {
    expect(dataLoss(input(writes(), finalState(undefined, [member("n1", "replica", range(1, 10))])))).toEqual({
      valid: "unknown",
      reasons: ["no leader in the final state: cannot tell which writes survived"],
    });
    const unread = finalState("n2", [member("n2", "leader", undefined, undefined, "connection refused")]);
    expect(dataLoss(input(writes(), unread)).reasons).toEqual(["leader n2 could not be read: connection refused: cannot tell which writes survived"]);
    expect(dataLoss(input(writes(), finalState("n3", []))).valid).toBe("unknown");
  });

  it("throws on a write entry without an integer id", () => {
    const h = history().add({ at: 0, process: "writer", type: "ok", f: "write", value: "x" }).build();
    expect(() => dataLoss(input(h, onLeader([])))).toThrow('history entry 0 (write ok) has value "x", expected an integer id');
  });
});

describe("dataLoss: writes acknowledged directly by a node", () => {
  // n1 was primary and took 5 probe writes, then a split-brain: n2 also took 3 as a new primary.
  const h = () =>
    history()
      .oks(1, 10, 0, 100, "n2")
      .nodeProbes("n1", "writable", 0, 500, 100, 5, 1)
      .nodeProbes("n2", "writable", 0, 300, 100, 5, 2)
      .build();
  const leaderWith = (probe: Record<string, Array<[number, number]>>) => ({
    ...finalState("n2", [member("n1", "replica", range(1, 10), 2), member("n2", "leader", range(1, 10), 2)]),
    leaderProbeWrites: probe,
  });

  it("fails, naming the node and the seqs, when a node's acknowledged probe writes are missing from the final leader", () => {
    const r = dataLoss(input(h(), leaderWith({ n1: [[1, 3]], n2: [[1, 3]] })));
    expect(r.valid).toBe(false);
    expect(r.lostDirect).toBe(2);
    expect(r.lostDirectByNode).toEqual({ n1: [4, 5] });
    expect(r.reasons).toEqual([expect.stringMatching(/2 writes acknowledged directly .* 2 acknowledged by n1 \(probe seqs 4, 5\)/)]);
  });

  it("passes when every acknowledged probe write survived", () => {
    const r = dataLoss(input(h(), leaderWith({ n1: [[1, 5]], n2: [[1, 3]] })));
    expect(r.valid).toBe(true);
    expect(r.lostDirect).toBe(0);
  });

  it("says nothing about probe writes for runs recorded before the leader's probe table was read", () => {
    const r = dataLoss(input(h(), finalState("n2", [member("n2", "leader", range(1, 10), 2)])));
    expect(r.valid).toBe(true);
    expect(r.lostDirect).toBeUndefined();
  });
});
