import { describe, expect, it } from "vitest";
import type { Member } from "../platform/types.ts";
import { ROLE_TARGETS, isRoleTarget, resolveTarget, type TargetView } from "./targets.ts";

const m = (name: string, role: string): Member => ({ name, host: `10.0.0.${name.slice(1)}`, role, state: "running" });

/** Leader n1, async replica n2, sync standby n3. */
const three: TargetView = { members: [m("n1", "leader"), m("n2", "replica"), m("n3", "sync_standby")], dcsLeader: "n2" };
const five: TargetView = {
  members: [m("n1", "replica"), m("n2", "replica"), m("n3", "leader"), m("n4", "replica"), m("n5", "replica")],
};

/** A deterministic random: returns the given values in turn, then the last one forever. */
const seq = (...xs: number[]) => {
  let i = 0;
  return () => xs[Math.min(i++, xs.length - 1)]!;
};
const first = () => 0;
const last = () => 0.999999;

describe("resolveTarget", () => {
  it("primary is the leader, asked for now", () => {
    expect(resolveTarget("primary", three)).toEqual(["n1"]);
    expect(resolveTarget("primary", five)).toEqual(["n3"]);
  });

  it("primary without a leader throws naming the target, the reason and the members", () => {
    const view: TargetView = { members: [m("n1", "replica"), m("n2", "replica")] };
    expect(() => resolveTarget("primary", view)).toThrowError(/target "primary".*no leader.*n1:replica, n2:replica/);
  });

  it("replica is any non-leader, chosen by the injected random", () => {
    expect(resolveTarget("replica", three, first)).toEqual(["n2"]);
    expect(resolveTarget("replica", three, last)).toEqual(["n3"]);
    for (let i = 0; i < 20; i++) expect(resolveTarget("replica", three)).not.toContain("n1");
  });

  it("replica with only a leader throws", () => {
    expect(() => resolveTarget("replica", { members: [m("n1", "leader")] })).toThrowError(/target "replica".*no replica.*n1:leader/);
  });

  it("sync-standby is a member with role sync_standby", () => {
    expect(resolveTarget("sync-standby", three, first)).toEqual(["n3"]);
    expect(resolveTarget("sync-standby", three, last)).toEqual(["n3"]);
  });

  it("sync-standby without one throws naming synchronous_mode and the members", () => {
    expect(() => resolveTarget("sync-standby", five)).toThrowError(/target "sync-standby".*synchronous.*n3:leader/);
  });

  it("dcs-leader is what the view says, and an error when unknown", () => {
    expect(resolveTarget("dcs-leader", three)).toEqual(["n2"]);
    expect(() => resolveTarget("dcs-leader", five)).toThrowError(/target "dcs-leader".*DCS leader is unknown.*n1:replica/);
  });

  it("one is a single member chosen by the random", () => {
    expect(resolveTarget("one", three, first)).toEqual(["n1"]);
    expect(resolveTarget("one", three, seq(0.5))).toEqual(["n2"]);
    expect(resolveTarget("one", three, last)).toEqual(["n3"]);
  });

  it.each([
    ["three", three, 1, 2],
    ["five", five, 2, 3],
  ])("minority and majority of %s nodes", (_label, view, minority, majority) => {
    const names = view.members.map((x) => x.name);
    const min = resolveTarget("minority", view, seq(0.3, 0.7, 0.1));
    const maj = resolveTarget("majority", view, seq(0.3, 0.7, 0.1));
    expect(min).toHaveLength(minority);
    expect(maj).toHaveLength(majority);
    for (const picked of [min, maj]) {
      expect(new Set(picked).size).toBe(picked.length); // no node twice
      for (const n of picked) expect(names).toContain(n);
    }
    // A majority is more than half, a minority less than half: the two can never both hold quorum.
    expect(maj.length * 2).toBeGreaterThan(names.length);
    expect(min.length * 2).toBeLessThan(names.length);
  });

  it("picks without replacement in the order the random gives", () => {
    // Pool n1..n5; 0.5 → index 2 (n3); pool n1,n2,n4,n5; 0 → n1; pool n2,n4,n5; 0.99 → n5.
    expect(resolveTarget("majority", five, seq(0.5, 0, 0.99))).toEqual(["n3", "n1", "n5"]);
  });

  it("all is every member, a copy in member order", () => {
    const all = resolveTarget("all", three);
    expect(all).toEqual(["n1", "n2", "n3"]);
    all.push("n9");
    expect(resolveTarget("all", three)).toEqual(["n1", "n2", "n3"]);
  });

  it("a node name resolves to itself when it is a member", () => {
    expect(resolveTarget("n2", three)).toEqual(["n2"]);
    expect(resolveTarget("n5", five)).toEqual(["n5"]);
  });

  it("an unknown node name throws naming it and listing the members", () => {
    expect(() => resolveTarget("n7", three)).toThrowError('target "n7" matches no node: no node named "n7" (members: n1:leader, n2:replica, n3:sync_standby)');
  });

  it("says so when there are no members at all", () => {
    expect(() => resolveTarget("primary", { members: [] })).toThrowError(/members: no members/);
  });

  it("does not call the random for deterministic roles", () => {
    const never = () => {
      throw new Error("random called");
    };
    expect(resolveTarget("primary", three, never)).toEqual(["n1"]);
    expect(resolveTarget("all", three, never)).toEqual(["n1", "n2", "n3"]);
    expect(resolveTarget("n3", three, never)).toEqual(["n3"]);
  });
});

describe("isRoleTarget", () => {
  it("knows every role and nothing else", () => {
    for (const r of ROLE_TARGETS) expect(isRoleTarget(r)).toBe(true);
    expect(isRoleTarget("n1")).toBe(false);
    expect(isRoleTarget("leader")).toBe(false);
  });
});
