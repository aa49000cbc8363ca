import { describe, expect, it } from "vitest";
import { divergence } from "./divergence.ts";
import { finalState, history, input, member, range } from "./test-history.ts";

const acked = () => history().oks(1, 10, 0, 100, "n1").write(11, "info", 1000).build();

describe("divergence", () => {
  it("passes when every member matches the leader", () => {
    const final = finalState("n2", [member("n1", "replica", range(1, 11), 4), member("n2", "leader", range(1, 11), 4), member("n3", "sync_standby", range(1, 11), 4)]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe(true);
    expect(r.reasons).toBeUndefined();
    expect(r).toMatchObject({ leader: "n2", leaderTimeline: 4 });
    expect(r.members).toEqual([
      { node: "n1", role: "replica", timeline: 4, sameTimeline: true, extra: 0, missing: 0, missingAcknowledged: 0, extraIds: [], missingIds: [] },
      { node: "n3", role: "sync_standby", timeline: 4, sameTimeline: true, extra: 0, missing: 0, missingAcknowledged: 0, extraIds: [], missingIds: [] },
    ]);
  });

  it("fails on a member with rows the leader lacks", () => {
    const final = finalState("n2", [member("n1", "replica", [...range(1, 10), 12, 13], 4), member("n2", "leader", range(1, 10), 4)]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe(false);
    expect(r.members).toEqual([expect.objectContaining({ node: "n1", extra: 2, extraIds: [12, 13], missing: 0 })]);
    expect(r.reasons).toEqual(["member n1 (replica) has 2 rows the leader n2 lacks: ids 12, 13"]);
  });

  it("fails on a member missing rows, counting the acknowledged ones", () => {
    const final = finalState("n2", [member("n1", "replica", range(1, 8), 4), member("n2", "leader", range(1, 11), 4)]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe(false);
    expect(r.members).toEqual([expect.objectContaining({ missing: 3, missingAcknowledged: 2, missingIds: [9, 10, 11], extra: 0 })]);
    expect(r.reasons).toEqual(["member n1 (replica) lacks 3 rows the leader n2 has (2 acknowledged): ids 9, 10, 11"]);
  });

  it("fails on a forked timeline even with the same rows", () => {
    const final = finalState("n2", [member("n1", "replica", range(1, 10), 3), member("n2", "leader", range(1, 10), 4)]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe(false);
    expect(r.members).toEqual([expect.objectContaining({ sameTimeline: false, timeline: 3 })]);
    expect(r.reasons).toEqual(["member n1 (replica) is on timeline 3, the leader n2 on timeline 4"]);
  });

  it("caps the id lists at 50", () => {
    const final = finalState("n2", [member("n1", "replica", range(1, 100), 4), member("n2", "leader", [], 4)]);
    const m = (divergence(input(acked(), final)).members as Array<{ extra: number; extraIds: number[] }>)[0]!;
    expect(m.extra).toBe(100);
    expect(m.extraIds).toEqual(range(1, 50));
  });

  it("is unknown, not true, when a member could not be read", () => {
    const final = finalState("n2", [member("n1", "unreachable", undefined, undefined, "timeout"), member("n2", "leader", range(1, 10), 4)]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe("unknown");
    expect(r.reasons).toEqual(["member n1 (unreachable) could not be read: timeout"]);
  });

  it("is unknown when a member's timeline is not known", () => {
    const final = finalState("n2", [member("n1", "replica", range(1, 10)), member("n2", "leader", range(1, 10), 4)]);
    expect(divergence(input(acked(), final))).toMatchObject({ valid: "unknown", reasons: ["timeline of member n1 (replica) is unknown"] });
  });

  it("is false, not unknown, when one member diverges and another is unreadable", () => {
    const final = finalState("n2", [
      member("n1", "replica", range(1, 12), 4),
      member("n2", "leader", range(1, 10), 4),
      member("n3", "unreachable", undefined),
    ]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe(false);
    expect(r.reasons).toHaveLength(2);
  });

  it("is unknown without a readable leader", () => {
    expect(divergence(input(acked(), finalState(undefined, [member("n1", "replica", [], 1)])))).toEqual({
      valid: "unknown",
      reasons: ["no leader in the final state: nothing to compare members with"],
    });
    expect(divergence(input(acked(), finalState("n1", [member("n1", "leader", undefined)]))).valid).toBe("unknown");
  });

  it("reports but does not fail divergence the scenario expects", () => {
    const final = finalState("n2", [member("n1", "replica", range(1, 12), 3), member("n2", "leader", range(1, 10), 4)]);
    const r = divergence(input(acked(), final, { divergence: true }));
    expect(r.valid).toBe(true);
    expect(r.divergenceExpected).toBe(true);
    expect(r.reasons).toHaveLength(2);
  });
});
