import { describe, expect, it } from "vitest";
import { divergence } from "./divergence.ts";
import { finalState, history, input, member, range } from "./test-history.ts";
import type { FinalMember } from "./types.ts";

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

describe("divergence: forked timelines", () => {
  const line1 = "1\t0/3000060\tno recovery target specified";
  const a = `${line1}\n2\t0/5000098\tno recovery target specified\n`;
  const b = `${line1}\n2\t0/50001A0\tno recovery target specified\n`;
  const withHistory = (m: FinalMember, timelineHistory?: string): FinalMember => ({ ...m, timelineHistory });
  const ids = range(1, 10);

  it("fails when two members are on the same timeline with different histories, naming both", () => {
    const final = finalState("n2", [
      withHistory(member("n1", "replica", ids, 3), a),
      withHistory(member("n2", "leader", ids, 3), b),
      withHistory(member("n3", "replica", ids, 3), a),
    ]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe(false);
    expect(r.forks).toEqual([
      {
        timeline: 3,
        variants: [
          { members: ["n1", "n3"], history: `${line1.replace(/\t/g, " ")}\n2 0/5000098 no recovery target specified` },
          { members: ["n2"], history: `${line1.replace(/\t/g, " ")}\n2 0/50001A0 no recovery target specified` },
        ],
      },
    ]);
    expect(r.reasons).toEqual([
      "timeline 3 forked: members n1, n3, n2 are all on timeline 3 with different histories (first difference at line 2): " +
        'n1, n3 have "1 0/3000060 no recovery target specified", "2 0/5000098 no recovery target specified" (2 lines); ' +
        'n2 has "1 0/3000060 no recovery target specified", "2 0/50001A0 no recovery target specified" (2 lines)',
    ]);
  });

  it("fails on a fork between two replicas too", () => {
    const final = finalState("n2", [
      withHistory(member("n1", "replica", ids, 3), a),
      withHistory(member("n2", "leader", ids, 3)),
      withHistory(member("n3", "replica", ids, 3), b),
    ]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe(false);
    expect(r.reasons).toEqual([expect.stringMatching(/^timeline 3 forked: members n1, n3 /)]);
  });

  it("shows the lines around the first difference of a long history", () => {
    const long = (last: string) => ["1\t0/1\tx", "2\t0/2\tx", "3\t0/3\tx", "4\t0/4\tx", `5\t${last}\tx`].join("\n");
    const final = finalState("n1", [withHistory(member("n1", "leader", ids, 6), long("0/5")), withHistory(member("n2", "replica", ids, 6), long("0/6"))]);
    const reason = divergence(input(acked(), final)).reasons![0]!;
    expect(reason).toContain("(first difference at line 5)");
    expect(reason).toContain('n1 has ... "3 0/3 x", "4 0/4 x", "5 0/5 x" (5 lines)');
    expect(reason).toContain('n2 has ... "3 0/3 x", "4 0/4 x", "5 0/6 x" (5 lines)');
  });

  it("passes the same history, ignoring a trailing newline and tabs versus spaces", () => {
    const final = finalState("n2", [
      withHistory(member("n1", "replica", ids, 3), a),
      withHistory(member("n2", "leader", ids, 3), a.trimEnd()),
      withHistory(member("n3", "replica", ids, 3), a.replace(/\t/g, "  ")),
    ]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe(true);
    expect(r.reasons).toBeUndefined();
    expect(r.forks).toBeUndefined();
  });

  it("does not compare histories of different timelines, and timeline 1's empty histories agree", () => {
    const final = finalState("n1", [withHistory(member("n1", "leader", ids, 1), ""), withHistory(member("n2", "replica", ids, 1), "\n")]);
    expect(divergence(input(acked(), final)).valid).toBe(true);
  });

  it("does not fail when a history is missing", () => {
    const final = finalState("n2", [withHistory(member("n1", "replica", ids, 3), a), withHistory(member("n2", "leader", ids, 3)), member("n3", "replica", ids, 3)]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe(true);
    expect(r.forks).toBeUndefined();
  });

  it("fails on a fork even without a readable leader", () => {
    const final = finalState(undefined, [withHistory(member("n1", "replica", ids, 3), a), withHistory(member("n2", "replica", ids, 3), b)]);
    const r = divergence(input(acked(), final));
    expect(r.valid).toBe(false);
    expect(r.reasons).toEqual([expect.stringMatching(/^timeline 3 forked/), "no leader in the final state: nothing to compare members with"]);
  });

  it("reports but does not fail a fork the scenario expects", () => {
    const final = finalState("n2", [withHistory(member("n1", "replica", ids, 3), a), withHistory(member("n2", "leader", ids, 3), b)]);
    const r = divergence(input(acked(), final, { divergence: true }));
    expect(r.valid).toBe(true);
    expect(r.divergenceExpected).toBe(true);
    expect(r.reasons).toEqual([expect.stringMatching(/^timeline 3 forked/)]);
  });
});
