import { describe, expect, it } from "vitest";
import { lag } from "./lag.ts";
import { history, input, T0 } from "./test-history.ts";

const sample = (n2: number | undefined, n3: number | undefined) => [
  { name: "n1", role: "leader", lagBytes: 0, timeline: 2 },
  { name: "n2", role: "replica", lagBytes: n2, timeline: 2 },
  { name: "n3", role: "sync_standby", lagBytes: n3, timeline: 2 },
];

/** Samples at 100 (lag 10/20), 900 (lag 4096/512), fault at 950, a sample at 2000 that must be ignored. */
function run() {
  return history()
    .cluster(100, sample(10, 20))
    .oks(1, 5, 0, 100, "n1")
    .cluster(900, sample(4096, 512))
    .fault("inject", 950)
    .cluster(2000, sample(99_999_999, 99_999_999))
    .fault("heal", 3000)
    .build();
}

describe("lag", () => {
  it("reads the last sample before the first fault and reports each member's lag", () => {
    const r = lag(input(run()));
    expect(r).toEqual({
      valid: true,
      sampleAt: T0 + 900,
      faultAt: T0 + 950,
      beforeFault: true,
      maxLagBytes: 4096,
      bound: undefined,
      members: [
        { name: "n1", role: "leader", lagBytes: 0, timeline: 2 },
        { name: "n2", role: "replica", lagBytes: 4096, timeline: 2 },
        { name: "n3", role: "sync_standby", lagBytes: 512, timeline: 2 },
      ],
    });
    expect(r.withinBound).toBeUndefined();
  });

  it("compares with maximumLagOnFailover, member by member", () => {
    const within = lag(input(run(), undefined, { maximumLagOnFailover: 4096 }));
    expect(within).toMatchObject({ valid: true, bound: 4096, withinBound: true, maxLagBytes: 4096 });
    expect(within.notes).toBeUndefined();

    const over = lag(input(run(), undefined, { maximumLagOnFailover: 1000 }));
    expect(over).toMatchObject({ valid: true, bound: 1000, withinBound: false });
    expect((over.members as Array<{ name: string; withinBound?: boolean }>).map((m) => [m.name, m.withinBound])).toEqual([
      ["n1", undefined],
      ["n2", false],
      ["n3", true],
    ]);
    expect(over.notes).toEqual(["n2 (4096 bytes) lagged more than maximum_lag_on_failover 1000 bytes before the fault: not failover candidates"]);
  });

  it("ignores the leader's lag and says which replica's lag is unknown", () => {
    const h = history()
      .cluster(100, [
        { name: "n1", role: "leader", lagBytes: 10_000 },
        { name: "n2", role: "replica", lagBytes: 7 },
        { name: "n3", role: "replica" },
      ])
      .fault("inject", 200)
      .build();
    const r = lag(input(h, undefined, { maximumLagOnFailover: 8 }));
    expect(r).toMatchObject({ valid: true, maxLagBytes: 7, withinBound: true, notes: ["lag of n3 is unknown"] });
  });

  it("leaves maxLagBytes and withinBound out when no replica's lag is known", () => {
    const h = history().cluster(100, sample(undefined, undefined)).fault("inject", 200).build();
    const r = lag(input(h, undefined, { maximumLagOnFailover: 8 }));
    expect(r).toMatchObject({ valid: true, maxLagBytes: undefined, notes: ["lag of n2, n3 is unknown"] });
    expect(r.withinBound).toBeUndefined();
  });

  it("uses the last sample of a run without a fault", () => {
    const h = history().cluster(100, sample(1, 2)).cluster(200, sample(3, 4)).build();
    expect(lag(input(h))).toMatchObject({ valid: true, sampleAt: T0 + 200, beforeFault: false, faultAt: undefined, maxLagBytes: 4 });
  });

  it("is unknown without a sample before the fault", () => {
    const h = history().fault("inject", 50).cluster(100, sample(1, 2)).build();
    expect(lag(input(h, undefined, { maximumLagOnFailover: 5 }))).toEqual({
      valid: "unknown",
      reasons: ["no cluster sample before the first fault: replication lag is unknown"],
      faultAt: T0 + 50,
      bound: 5,
    });
    expect(lag(input(history().oks(1, 3, 0, 100, "n1").build())).reasons).toEqual(["no cluster sample in the history: replication lag is unknown"]);
  });

  it("is unknown when the sample lists no members", () => {
    const h = history().cluster(100, []).fault("inject", 200).build();
    expect(lag(input(h))).toMatchObject({ valid: "unknown", reasons: [expect.stringMatching(/lists no members/)] });
  });

  it("throws on a malformed sample, naming the entry", () => {
    const h = history().add({ at: 0, process: "runner", type: "info", f: "cluster", value: { members: [{ name: "n1", lagBytes: "12" }] } }).build();
    expect(() => lag(input(h))).toThrow(/history entry 0 \(cluster sample\) has value .*expected \{ members/);
  });
});
