import { describe, expect, it } from "vitest";
import type { HistoryEntry } from "../history/types.ts";
import { killPrimary } from "./exercises/03-kill-primary.ts";
import { quickRestart } from "./exercises/04-quick-restart.ts";
import { switchover } from "./exercises/05-switchover.ts";
import { patroniKill } from "./exercises/07-patroni-kill.ts";
import { isolate } from "./exercises/08-isolate.ts";
import { tour } from "./exercises/01-tour.ts";
import { longestWriteGap } from "./workshop.ts";
import type { CheckContext, Figures, MemberView, Snapshot } from "./types.ts";

const member = (name: string, role: string, timeline = 2, extra: Partial<MemberView> = {}): MemberView => ({
  name,
  address: `10.0.0.${name.slice(1)}`,
  role,
  state: "running",
  timeline,
  streaming: role !== "leader",
  podRunning: true,
  patroniUp: true,
  postgresUp: true,
  configPresent: true,
  ...extra,
});

function snapshot(members: MemberView[]): Snapshot {
  const leader = members.find((m) => m.role === "leader");
  return { time: 0, scope: "s", ttl: 10, members, leader: leader?.name, timeline: leader?.timeline, writes: { ok: 1, fail: 0, unknown: 0 }, faults: [] };
}

let index = 0;
const fault = (fault: string, phase: "inject" | "heal", node: string): HistoryEntry => ({ index: index++, time: index, process: "nemesis", type: "info", f: "fault", value: { fault, phase, target: "primary", nodes: [node] } });

function ctx(s: Snapshot, history: HistoryEntry[], extra: Partial<CheckContext> = {}, figures: Figures = { writesUnavailableS: 10.2, lostWrites: 0, splitBrainS: 2.1 }): CheckContext {
  return {
    snapshot: s,
    baseline: { at: 0, historyIndex: 0, leader: "n1", timeline: 1, target: "n2", postmasterStart: { n1: "t0" } },
    answers: {},
    sql: async () => [],
    patroni: async () => ({ postmaster_start_time: "t1" }),
    history: () => history,
    figures: async () => figures,
    ...extra,
  };
}

const whole = () => snapshot([member("n1", "replica"), member("n2", "leader"), member("n3", "replica")]);

describe("exercise checks judge the cluster's state", () => {
  it("kill-primary: fails until the primary was killed, replaced, and back as a replica on the new timeline", async () => {
    const r = (c: CheckContext) => killPrimary.verify(c).then((v) => (v.ok ? "ok" : v.reason));
    expect(await r(ctx(whole(), []))).toMatch(killPrimary.firstReason);
    expect(await r(ctx(whole(), [], { prediction: 12 }))).toMatch(/has not been killed yet/);
    const killed = [fault("kill", "inject", "n1")];
    const stillLeader = snapshot([member("n1", "leader", 1), member("n2", "replica", 1), member("n3", "replica", 1)]);
    expect(await r(ctx(stillLeader, killed, { prediction: 12 }))).toMatch(/n1 still holds the leader key/);
    const notBack = snapshot([member("n1", "down", undefined, { patroniUp: false, state: "down" }), member("n2", "leader"), member("n3", "replica")]);
    expect(await r(ctx(notBack, killed, { prediction: 12 }))).toMatch(/n1's Patroni is not running/);
    const oldTimeline = snapshot([member("n1", "replica", 1, { streaming: false }), member("n2", "leader"), member("n3", "replica")]);
    expect(await r(ctx(oldTimeline, killed, { prediction: 12 }))).toMatch(/n1 has not come back as a streaming replica/);
    expect(await r(ctx(whole(), killed, { prediction: 12 }))).toBe("ok");
  });

  it("quick-restart: a leader that moved is the lesson, not a pass", async () => {
    const killed = [fault("kill", "inject", "n1"), fault("kill", "heal", "n1")];
    const v = await quickRestart.verify(ctx(whole(), killed));
    expect(v.ok).toBe(false);
    expect(!v.ok && v.reason).toMatch(/the leader moved to n2: n1 stayed down longer than the ttl/);
    const kept = snapshot([member("n1", "leader", 1), member("n2", "replica", 1), member("n3", "replica", 1)]);
    expect((await quickRestart.verify(ctx(kept, killed))).ok).toBe(true);
    expect((await quickRestart.verify(ctx(kept, killed, { patroni: async () => ({ postmaster_start_time: "t0" }) }))).ok).toBe(false);
  });

  it("switchover: only the picked candidate as leader passes", async () => {
    const wrong = snapshot([member("n1", "replica"), member("n2", "replica"), member("n3", "leader")]);
    const v = await switchover.verify(ctx(wrong, []));
    expect(!v.ok && v.reason).toBe("n3 leads, not n2");
    expect((await switchover.verify(ctx(whole(), []))).ok).toBe(true);
  });

  it("patroni-kill: needs the Patroni kill, a new leader, and the old primary demoted", async () => {
    expect(await patroniKill.verify(ctx(whole(), []))).toMatchObject({ ok: false, reason: expect.stringMatching(patroniKill.firstReason) });
    const killed = [fault("patroni-kill", "inject", "n1")];
    const twoPrimaries = snapshot([member("n1", "leader", 1, { patroniUp: false }), member("n2", "leader"), member("n3", "replica")]);
    expect((await patroniKill.verify(ctx(twoPrimaries, killed))).ok).toBe(false);
    expect(await patroniKill.verify(ctx(whole(), killed))).toMatchObject({ ok: true, detail: expect.stringContaining("2.1 s") });
  });

  it("isolate: the answer must be what the history and the leader's table say", async () => {
    const cut = [fault("partition", "inject", "n1")];
    expect(await isolate.verify(ctx(whole(), cut))).toMatchObject({ ok: false, reason: expect.stringMatching(/still cut off/) });
    const healed = [...cut, fault("partition", "heal", "n1")];
    const lost = { lostWrites: 61 };
    expect(await isolate.verify(ctx(whole(), healed, { answers: { lost: "0" } }, lost))).toMatchObject({ ok: false, reason: "you answered 0; the history and the leader's table say 61" });
    expect((await isolate.verify(ctx(whole(), healed, { answers: { lost: "61" } }, lost))).ok).toBe(true);
  });

  it("tour: a wrong leader or ttl is refused", async () => {
    expect((await tour.verify(ctx(whole(), [], { answers: { leader: "n1", ttl: "10" } }))).ok).toBe(false);
    expect((await tour.verify(ctx(whole(), [], { answers: { leader: "n2", ttl: "30" } }))).ok).toBe(false);
    expect((await tour.verify(ctx(whole(), [], { answers: { leader: "n2", ttl: "10" } }))).ok).toBe(true);
  });
});

describe("longestWriteGap", () => {
  const w = (time: number, type: "ok" | "fail"): HistoryEntry => ({ index: time, time, process: "writer", type, f: "write", value: time });
  it("is the longest time between acknowledged writes, from the exercise's start, and up to now while writes fail", () => {
    expect(longestWriteGap([], 0, 100)).toBeUndefined();
    expect(longestWriteGap([w(10, "ok"), w(20, "ok"), w(25, "fail"), w(90, "ok"), w(95, "ok")], 0, 100)).toBe(70);
    expect(longestWriteGap([w(10, "ok"), w(20, "fail")], 0, 500)).toBe(490);
  });
});
