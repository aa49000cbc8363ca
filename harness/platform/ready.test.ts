import { describe, expect, it } from "vitest";
import type { Member } from "./types.ts";
import { LeaderCountError, waitPatroniReady, type ReadyTarget } from "./ready.ts";
import { ReadinessTimeoutError } from "../util/errors.ts";

const credentials = { user: "postgres", password: "x", database: "postgres" };
const leader = (name: string, timeline = 2): Member => ({ name, host: "", role: "leader", state: "running", timeline });
const replica = (name: string, over: Partial<Member> = {}): Member => ({ name, host: "", role: "replica", state: "running", timeline: 2, streaming: true, ...over });

function target(over: Partial<ReadyTarget> & { answers: Member[][] }): ReadyTarget {
  let i = 0;
  return {
    nodes: ["n1"],
    credentials,
    endpoint: () => ({ host: "127.0.0.1", port: 1 }),
    dcsLeader: async () => "n1",
    members: async () => over.answers[Math.min(i++, over.answers.length - 1)]!,
    ...over,
  };
}

describe("ready, as the local and docker platforms wait for it", () => {
  it("is one running leader, then the DCS's leader", async () => {
    let dcsAsked = 0;
    const t = target({ answers: [[leader("n1")]], dcsLeader: async () => (++dcsAsked < 3 ? undefined : "n1") });
    expect(await waitPatroniReady(t, { timeoutMs: 5000, where: "test" })).toMatchObject({ leader: "n1" });
    expect(dcsAsked).toBe(3);
  });

  it("keeps waiting while two members lead, and says so when it gives up", async () => {
    const t = target({ nodes: ["n1", "n2"], answers: [[leader("n1"), leader("n2")]] });
    const e = await waitPatroniReady(t, { timeoutMs: 600, where: "test" }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(ReadinessTimeoutError);
    expect((e as Error).message).toMatch(/2 running leaders among n1:leader\/running n2:leader\/running/);
    // What the runner reads to add a stack's note on two primaries (repmgr's manual rejoin), not the message's text.
    const cause = (e as ReadinessTimeoutError).lastCause;
    expect(cause).toBeInstanceOf(LeaderCountError);
    expect((cause as LeaderCountError).leaders).toEqual(["n1", "n2"]);
  });

  it("gives up on no leader with a cause that names none", async () => {
    const t = target({ nodes: ["n1", "n2"], answers: [[replica("n1"), replica("n2")]] });
    const e = await waitPatroniReady(t, { timeoutMs: 600, where: "test" }).then(() => undefined, (x: unknown) => x);
    expect(((e as ReadinessTimeoutError).lastCause as LeaderCountError).leaders).toEqual([]);
  });

  it("names a member that has not registered, and why, and a replica on another timeline", async () => {
    const missing = target({ nodes: ["n1", "n2"], answers: [[leader("n1")]], missing: (n) => `${n}: Patroni not running in its pod` });
    await expect(waitPatroniReady(missing, { timeoutMs: 600, where: "test" })).rejects.toThrow(/only 1 of 2 members registered \(n2: n2: Patroni not running/);
    const behind = target({ nodes: ["n1", "n2"], answers: [[leader("n1", 3), replica("n2")]] });
    await expect(waitPatroniReady(behind, { timeoutMs: 600, where: "test" })).rejects.toThrow(/not streaming yet: n2:running on timeline 2, leader on 3/);
    const stopped = target({ nodes: ["n1", "n2"], answers: [[leader("n1"), replica("n2", { streaming: false })]] });
    await expect(waitPatroniReady(stopped, { timeoutMs: 600, where: "test" })).rejects.toThrow(/not streaming yet: n2:running/);
  });

  it("names a member that cannot get ready alone when it gives up", async () => {
    const t = target({ answers: [[leader("n1")]], blocked: (n) => `the pod of ${n} is not running` });
    await expect(waitPatroniReady(t, { timeoutMs: 600, where: "test" })).rejects.toThrow(/the pod of n1 is not running/);
  });
});
