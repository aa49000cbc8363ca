import { describe, expect, it } from "vitest";
import { splitBrain, type SplitBrainWindow } from "./split-brain.ts";
import { history, input, range, T0, type HistoryBuilder } from "./test-history.ts";

/** Service writes ids from..., one every 100 ms from `at`, served by `node` on `timeline`. */
function serviceWrites(h: HistoryBuilder, firstId: number, count: number, at: number, node: string, timeline: number): HistoryBuilder {
  for (let i = 0; i < count; i++) h.write(firstId + i, "ok", at + i * 100, node, timeline);
  return h;
}

/**
 * n1 stays writable on timeline 2 for the whole run (probes invoked 0..4900, each ok 5 ms later) and
 * serves every service write; n2 is read-only, then also writable on timeline 3 for probes invoked
 * 1000..4000, then read-only again. n1's certain period is [5, 4900], n2's [1005, 4000].
 */
function twoWriters() {
  const h = history()
    .nodeProbes("n1", "writable", 0, 5000, 100, 5, 2)
    .nodeProbes("n2", "read-only", 0, 1000, 100)
    .nodeProbes("n2", "writable", 1000, 4001, 100, 5, 3)
    .nodeProbes("n2", "read-only", 4100, 5000, 100);
  return serviceWrites(h, 1, 50, 0, "n1", 2).build();
}

const windows = (r: ReturnType<typeof splitBrain>) => r.windows as SplitBrainWindow[];

describe("splitBrain", () => {
  it("fails when two nodes were writable at once, naming the window, the nodes and their writes", () => {
    const r = splitBrain(input(twoWriters()));
    expect(r.valid).toBe(false);
    expect(windows(r)).toEqual([
      {
        nodes: ["n1", "n2"],
        start: T0 + 1005,
        end: T0 + 4000,
        ms: 2995,
        writes: {
          // n1's probe 11 (invoked 1000) completed at 1005, inside; its probe 42 was invoked at 4100, after.
          n1: { probeSeqs: range(11, 41), serviceIds: range(12, 41), probeCount: 31, serviceCount: 30, timelines: [2] },
          // Service write 41 was invoked at 4000 exactly and completed after the window: its invoke counts.
          n2: { probeSeqs: range(11, 41), serviceIds: [], probeCount: 31, serviceCount: 0, timelines: [3] },
        },
      },
    ]);
    expect(r).toMatchObject({ maxWindowMs: 2995, totalWindowMs: 2995, writableNodesAtEnd: ["n1"] });
    expect(r.reasons).toHaveLength(1);
    expect(r.reasons![0]).toMatch(/^split-brain: n1 and n2 were both writable for 2995 ms, from .*Z to .*Z; /);
    expect(r.reasons![0]).toContain("n1 on timeline 2 acknowledged 31 probe writes (seqs 11, 12,");
    expect(r.reasons![0]).toContain("and 30 service writes (ids 12, 13,");
    expect(r.reasons![0]).toContain("n2 on timeline 3 acknowledged 31 probe writes");
    expect(r.reasons![0]).toContain("and no service writes");
  });

  it("reports but does not fail a split-brain the scenario expects", () => {
    const r = splitBrain(input(twoWriters(), undefined, { splitBrain: true }));
    expect(r.valid).toBe(true);
    expect(r.splitBrainExpected).toBe(true);
    expect(windows(r)).toHaveLength(1);
    expect(r.reasons).toHaveLength(1);
    expect(splitBrain(input(twoWriters(), undefined, { splitBrain: false })).valid).toBe(false);
  });

  it("caps the listed ids at 50 but counts them all", () => {
    const h = history()
      .nodeProbes("n1", "writable", 0, 10_000, 50, 5)
      .nodeProbes("n2", "writable", 0, 10_000, 50, 5)
      .build();
    const w = windows(splitBrain(input(h)))[0]!;
    expect(w.writes.n1!.probeSeqs).toEqual(range(1, 50));
    expect(w.writes.n1!.probeCount).toBe(200);
  });

  it("reports every pair of a three-way split, with the total as the union of the windows", () => {
    const h = history()
      .nodeProbes("n1", "writable", 0, 5000, 100, 5)
      .nodeProbes("n2", "writable", 1000, 2001, 100, 5)
      .nodeProbes("n2", "read-only", 2100, 5000, 100)
      .nodeProbes("n3", "writable", 1500, 3001, 100, 5)
      .nodeProbes("n3", "unreachable", 3100, 5000, 100)
      .build();
    const r = splitBrain(input(h));
    expect(r.valid).toBe(false);
    expect(windows(r).map((w) => [w.nodes, w.start - T0, w.end - T0, w.ms])).toEqual([
      [["n1", "n2"], 1005, 2000, 995],
      [["n1", "n3"], 1505, 3000, 1495],
      [["n2", "n3"], 1505, 2000, 495],
    ]);
    // Two or more nodes writable from 1005 to 3000: the union, not the sum (2985) of the windows.
    expect(r).toMatchObject({ maxWindowMs: 1495, totalWindowMs: 1995 });
  });

  it("does not call a handover split-brain: the old primary's last write was invoked before the new one's first ok", () => {
    // n1's last write is slow: invoked at 2000, acknowledged at 2300. Its [invoke, ok] overlaps n2's first
    // writes, but n1 may have taken it at 2000, before n2 was ever proven writable (2100).
    const h = history()
      .nodeProbes("n1", "writable", 0, 2000, 100, 5)
      .nodeProbe("n1", "writable", 2000, 2300)
      .nodeProbes("n1", "read-only", 2400, 5000, 100)
      .nodeProbes("n2", "read-only", 0, 2000, 100)
      .nodeProbe("n2", "writable", 2050, 2100)
      .nodeProbes("n2", "writable", 2150, 5000, 100, 5)
      .build();
    const r = splitBrain(input(h));
    expect(r.valid).toBe(true);
    expect(r.reasons).toBeUndefined();
    expect(r).toMatchObject({ windows: [], maxWindowMs: 0, totalWindowMs: 0, writableNodesAtEnd: ["n2"] });
  });

  it("fails the same handover when the new primary's first write completed before the old one's last was invoked", () => {
    const h = history()
      .nodeProbes("n1", "writable", 0, 2000, 100, 5)
      .nodeProbe("n1", "writable", 2000, 2300)
      .nodeProbes("n1", "read-only", 2400, 5000, 100)
      .nodeProbe("n2", "writable", 1900, 1950)
      .nodeProbes("n2", "writable", 2050, 5000, 100, 5)
      .build();
    const r = splitBrain(input(h));
    expect(r.valid).toBe(false);
    expect(windows(r).map((w) => [w.nodes, w.start - T0, w.end - T0, w.ms])).toEqual([[["n1", "n2"], 1950, 2000, 50]]);
  });

  it("needs an overlap longer than 0 ms", () => {
    const h = history()
      .nodeProbes("n1", "writable", 0, 2001, 100, 5) // certain until 2000
      .nodeProbes("n1", "read-only", 2100, 3000, 100)
      .nodeProbe("n2", "writable", 1990, 2000) // certain from 2000
      .nodeProbes("n2", "writable", 2100, 3000, 100, 5)
      .build();
    expect(splitBrain(input(h))).toMatchObject({ valid: true, windows: [] });
  });

  it("passes a switchover and a switch back (n1 → n2 → n1)", () => {
    const h = history()
      .nodeProbes("n1", "writable", 0, 2000, 100, 5, 1)
      .nodeProbes("n1", "unreachable", 2000, 2300, 100)
      .nodeProbes("n1", "read-only", 2300, 4100, 100)
      .nodeProbes("n1", "writable", 4100, 6000, 100, 5, 3)
      .nodeProbes("n2", "read-only", 0, 2000, 100)
      .nodeProbes("n2", "writable", 2000, 4000, 100, 5, 2)
      .nodeProbes("n2", "read-only", 4000, 6000, 100)
      .nodeProbes("n3", "read-only", 0, 6000, 100)
      .build();
    const r = splitBrain(input(h));
    expect(r).toMatchObject({ valid: true, windows: [], writableNodesAtEnd: ["n1"] });
  });

  it("does not join runs across an indeterminate probe", () => {
    // n1 is writable, then a probe times out (maybe committed), then writable again. n2 was writable in
    // the gap. Joined across the info, n1's run would span n2's.
    const h = history()
      .nodeProbes("n1", "writable", 0, 1001, 100, 5)
      .nodeProbe("n1", "info", 1100, 1650)
      .nodeProbes("n1", "writable", 1700, 3000, 100, 5)
      .nodeProbes("n2", "writable", 1100, 1601, 100, 5)
      .nodeProbes("n2", "read-only", 1700, 3000, 100)
      .build();
    expect(splitBrain(input(h))).toMatchObject({ valid: true, windows: [] });
  });

  it("fails on a single write of one node that ran entirely inside the other's certain period", () => {
    const h = history()
      .nodeProbes("n1", "writable", 0, 5000, 100, 5)
      .nodeProbes("n2", "read-only", 0, 2000, 100)
      .nodeProbe("n2", "writable", 2010, 2030, 4)
      .nodeProbes("n2", "read-only", 2100, 5000, 100)
      .build();
    const r = splitBrain(input(h));
    expect(r.valid).toBe(false);
    expect(windows(r)).toEqual([
      {
        nodes: ["n1", "n2"],
        start: T0 + 2010,
        end: T0 + 2030,
        ms: 0,
        instant: true,
        writes: {
          n1: { probeSeqs: [], serviceIds: [], probeCount: 0, serviceCount: 0, timelines: [] },
          n2: { probeSeqs: [21], serviceIds: [], probeCount: 1, serviceCount: 0, timelines: [4] },
        },
      },
    ]);
    expect(r).toMatchObject({ maxWindowMs: 0, totalWindowMs: 0 });
    expect(r.reasons![0]).toMatch(/^split-brain: n1 and n2 were both writable at one instant between /);
  });

  it("does not fail on a single write that straddles the end of the other's certain period", () => {
    const h = history()
      .nodeProbes("n1", "writable", 0, 2001, 100, 5) // certain until 2000
      .nodeProbes("n1", "read-only", 2100, 4000, 100)
      .nodeProbe("n2", "writable", 1990, 2050)
      .nodeProbes("n2", "read-only", 2100, 4000, 100)
      .build();
    expect(splitBrain(input(h))).toMatchObject({ valid: true, windows: [] });
  });

  it("is unknown when the probes never saw a writable node", () => {
    const h = history()
      .nodeProbes("n1", "unreachable", 0, 3000, 100)
      .nodeProbes("n2", "read-only", 0, 3000, 100)
      .nodeProbe("n3", "info", 0, 3000)
      .oks(1, 10, 0, 100, "n1")
      .build();
    const r = splitBrain(input(h));
    expect(r.valid).toBe("unknown");
    expect(r.reasons).toEqual([expect.stringMatching(/no node probe ever found a writable node/)]);
    expect(r).toMatchObject({ windows: [], writableNodesAtEnd: [] });
  });

  it("is unknown without node probes", () => {
    const h = history().oks(1, 10, 0, 100, "n1").oks(11, 10, 0, 100, "n2").build();
    expect(splitBrain(input(h))).toEqual({ valid: "unknown", reasons: ["no node probes in the history: split-brain cannot be judged"] });
  });

  it("names the node from the process when a completion lacks one, and throws when neither says", () => {
    const h = history()
      .add({ at: 0, process: "probe-n1", type: "invoke", f: "node-probe", node: "n1", value: 1 })
      .add({ at: 5, process: "probe-n1", type: "ok", f: "node-probe", value: { state: "writable", seq: 1 } })
      .build();
    expect(splitBrain(input(h)).writableNodesAtEnd).toEqual(["n1"]);
    const bad = history().add({ at: 5, process: "prober", type: "ok", f: "node-probe", value: { state: "writable" } }).build();
    expect(() => splitBrain(input(bad))).toThrow(/entry 0 .*names no node.*"prober"/);
  });
});
