import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classHtml, classRows, histogramSvg } from "./class.ts";
import { serve, type Listening, type PagePayload } from "./server.ts";

function learnerPayload(index: number, ok: boolean, failover?: number): PagePayload {
  return {
    mode: "live",
    events: [],
    exercise: { index, count: 11, id: index === 3 ? "kill-primary" : "switchover", title: "t", topic: "", text: "", hints: [], hintsShown: 0, locked: false, answers: {}, startedAt: 1_000, check: ok ? { ok: true, at: 2 } : { ok: false, reason: "n1 still holds the leader key", at: 2 } },
    results: failover === undefined ? {} : { "kill-primary": { passed: true, figures: { writesUnavailableS: failover }, at: 3 } },
  };
}

describe("the class view", () => {
  const servers: Listening[] = [];
  beforeAll(async () => {
    for (const p of [learnerPayload(3, false), learnerPayload(5, true, 10.4), learnerPayload(5, false, 11.7)]) {
      servers.push(await serve({ payload: () => p, onChange: () => () => undefined }, { title: "t" }));
    }
  });
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  it("reads each learner's workshop: exercise, done or stuck and for how long, and what they measured", async () => {
    const regs = servers.map((s, i) => ({ pid: 1, port: s.port, token: s.token, url: s.url, startedAt: "", learner: ["ann", "bob", "cy"][i]! }));
    const rows = await classRows([...regs, { ...regs[0]!, port: 1, learner: "gone" }], 61_000);
    expect(rows.map((r) => [r.learner, r.exercise, r.passed, r.stuckS])).toEqual([
      ["ann", 3, false, 60],
      ["bob", 5, true, undefined],
      ["cy", 5, false, 60],
      ["gone", undefined, false, undefined],
    ]);
    expect(rows[3]!.error).toMatch(/does not answer/);
    const html = classHtml(rows, "tok");
    expect(html).toContain("n1 still holds the leader key (60 s)");
    expect(html).toContain("Class: 4 learners");
    // Two learners measured their failover: 10.4 s and 11.7 s, one bar each.
    expect(html.match(/<rect /g)).toHaveLength(2);
  });

  it("draws nothing it has not measured", () => {
    expect(histogramSvg([], "failover times")).toBe("<p>No failover times measured yet.</p>");
    expect(histogramSvg([10.1, 10.9, 12], "x").match(/<rect /g)).toHaveLength(3);
  });
});
