import { describe, expect, it } from "vitest";
import { bridge, CLIENTS, complete, describeGrudge, heal, isolate, majorityMinority, oneWayIn, oneWayOut, validate, type Grudge } from "./grudge.ts";

const three = ["n1", "n2", "n3"];
const five = ["n1", "n2", "n3", "n4", "n5"];

/** Whether packets from `from` reach `to` under grudge g (the clients side holds no grudge itself; a node
 * that drops "clients" is cut from them both ways, as the rules make it). */
function reaches(g: Grudge, from: string, to: string): boolean {
  if (to === CLIENTS) return !(g[from] ?? []).includes(CLIENTS);
  return !(g[to] ?? []).includes(from);
}

const connected = (g: Grudge, a: string, b: string) => reaches(g, a, b) && reaches(g, b, a);

describe("complete", () => {
  it("makes every node drop every node outside its component", () => {
    expect(complete([["n1"], ["n2", "n3"]])).toEqual({ n1: ["n2", "n3"], n2: ["n1"], n3: ["n1"] });
    expect(complete([["n1", "n2"], ["n3", "n4"], ["n5"]])).toEqual({
      n1: ["n3", "n4", "n5"],
      n2: ["n3", "n4", "n5"],
      n3: ["n1", "n2", "n5"],
      n4: ["n1", "n2", "n5"],
      n5: ["n1", "n2", "n3", "n4"],
    });
  });

  it("is empty for one component, and leaves nodes in no component alone", () => {
    expect(complete([three])).toEqual({});
    expect(complete([])).toEqual({});
    const g = complete([["n1"], ["n2"]]);
    expect(g).toEqual({ n1: ["n2"], n2: ["n1"] });
    expect(connected(g, "n3", "n1")).toBe(true);
  });

  it("cuts the nodes of the other components from the clients when a component holds them", () => {
    const g = complete([["n1", CLIENTS], ["n2", "n3"]]);
    expect(g).toEqual({ n1: ["n2", "n3"], n2: ["n1", CLIENTS], n3: ["n1", CLIENTS] });
    expect(CLIENTS in g).toBe(false);
  });

  it("rejects overlapping components", () => {
    expect(() => complete([["n1", "n2"], ["n2", "n3"]])).toThrow("complete: n2 is in component 1 and component 2; components must not overlap");
  });
});

describe("isolate", () => {
  it("cuts the node from every other node both ways, the clients still reaching everyone", () => {
    const g = isolate("n2", three, { clients: false });
    expect(g).toEqual({ n2: ["n1", "n3"], n1: ["n2"], n3: ["n2"] });
    for (const n of ["n1", "n3"]) expect(reaches(g, n, "n2") || reaches(g, "n2", n)).toBe(false);
    expect(connected(g, "n1", "n3")).toBe(true);
    for (const n of three) expect(reaches(g, n, CLIENTS)).toBe(true);
  });

  it("with clients, also cuts the node from the root namespace", () => {
    const g = isolate("n1", three, { clients: true });
    expect(g).toEqual({ n1: ["n2", "n3", CLIENTS], n2: ["n1"], n3: ["n1"] });
    expect(reaches(g, "n1", CLIENTS)).toBe(false);
    expect(reaches(g, "n2", CLIENTS)).toBe(true);
  });

  it("rejects an unknown node", () => {
    expect(() => isolate("n9", three, { clients: false })).toThrow("isolate: unknown node n9 (nodes: n1, n2, n3)");
  });
});

describe("one-way cuts", () => {
  it("oneWayIn: the node sends but does not receive", () => {
    const g = oneWayIn("n1", three);
    expect(g).toEqual({ n1: ["n2", "n3"] });
    expect(reaches(g, "n1", "n2")).toBe(true);
    expect(reaches(g, "n2", "n1")).toBe(false);
    expect(reaches(g, "n1", CLIENTS)).toBe(true);
  });

  it("oneWayOut: the node receives but does not send", () => {
    const g = oneWayOut("n1", three);
    expect(g).toEqual({ n2: ["n1"], n3: ["n1"] });
    expect(reaches(g, "n2", "n1")).toBe(true);
    expect(reaches(g, "n1", "n2")).toBe(false);
    expect(connected(g, "n2", "n3")).toBe(true);
  });

  it("reject unknown nodes", () => {
    expect(() => oneWayIn("x", three)).toThrow(/oneWayIn: unknown node x/);
    expect(() => oneWayOut("x", three)).toThrow(/oneWayOut: unknown node x/);
  });
});

describe("majorityMinority", () => {
  it("cuts the minority from the majority, the clients with the majority", () => {
    const g = majorityMinority(five, ["n4", "n2"], { clientsWith: "majority" });
    expect(g).toEqual({
      n2: ["n1", "n3", "n5", CLIENTS],
      n4: ["n1", "n3", "n5", CLIENTS],
      n1: ["n2", "n4"],
      n3: ["n2", "n4"],
      n5: ["n2", "n4"],
    });
    expect(connected(g, "n2", "n4")).toBe(true);
    expect(connected(g, "n1", "n5")).toBe(true);
  });

  it("puts the clients with the minority, or with both sides", () => {
    expect(majorityMinority(three, ["n1"], { clientsWith: "minority" })).toEqual({ n1: ["n2", "n3"], n2: ["n1", CLIENTS], n3: ["n1", CLIENTS] });
    const both = majorityMinority(three, ["n1"], { clientsWith: "both" });
    expect(both).toEqual({ n1: ["n2", "n3"], n2: ["n1"], n3: ["n1"] });
    for (const n of three) expect(reaches(both, n, CLIENTS)).toBe(true);
  });

  it("rejects a minority that is not strictly less than half, or unknown", () => {
    expect(() => majorityMinority(three, ["n1", "n2"], { clientsWith: "both" })).toThrow("majorityMinority: 2 of 3 nodes is not a strict minority (minority: n1, n2)");
    expect(() => majorityMinority(["n1", "n2", "n3", "n4"], ["n1", "n2"], { clientsWith: "both" })).toThrow(/2 of 4 nodes is not a strict minority/);
    expect(() => majorityMinority(three, [], { clientsWith: "both" })).toThrow(/0 of 3 nodes is not a strict minority \(minority: none\)/);
    expect(() => majorityMinority(three, ["n7"], { clientsWith: "both" })).toThrow(/unknown node n7/);
  });
});

describe("bridge", () => {
  it("for three nodes, cuts the two ends and leaves the middle connected to both", () => {
    const g = bridge(three, "n2");
    expect(g).toEqual({ n1: ["n3"], n3: ["n1"] });
    expect(connected(g, "n1", "n2") && connected(g, "n2", "n3")).toBe(true);
    expect(connected(g, "n1", "n3")).toBe(false);
  });

  it("for five nodes, two halves of two that both see the middle", () => {
    const g = bridge(five, "n3");
    expect(g).toEqual({ n1: ["n4", "n5"], n2: ["n4", "n5"], n4: ["n1", "n2"], n5: ["n1", "n2"] });
    for (const n of ["n1", "n2", "n4", "n5"]) expect(connected(g, n, "n3")).toBe(true);
    expect(connected(g, "n1", "n2") && connected(g, "n4", "n5")).toBe(true);
  });

  it("takes the middle out before halving, wherever it is", () => {
    expect(bridge(three, "n1")).toEqual({ n2: ["n3"], n3: ["n2"] });
    expect(bridge(five, "n1")).toEqual({ n2: ["n4", "n5"], n3: ["n4", "n5"], n4: ["n2", "n3"], n5: ["n2", "n3"] });
  });

  it("needs three nodes and a known middle", () => {
    expect(() => bridge(["n1", "n2"], "n1")).toThrow("bridge: needs at least 3 nodes, got 2");
    expect(() => bridge(three, "n4")).toThrow(/bridge: unknown node n4/);
  });
});

describe("heal, describeGrudge, validate", () => {
  it("heal is a fresh empty grudge", () => {
    const a = heal();
    expect(a).toEqual({});
    a.n1 = ["n2"];
    expect(heal()).toEqual({});
  });

  it("describes each node and the peers it drops", () => {
    expect(describeGrudge(oneWayIn("n1", three))).toBe("n1 ⇸ n2, n3");
    expect(describeGrudge(isolate("n1", three, { clients: true }))).toBe("n1 ⇸ n2, n3, clients; n2 ⇸ n1; n3 ⇸ n1");
    expect(describeGrudge(heal())).toBe("no grudge (fully connected)");
    expect(describeGrudge({ n1: [] })).toBe("no grudge (fully connected)");
  });

  it("accepts every grudge the builders make", () => {
    const all = [
      complete([["n1"], ["n2", "n3", CLIENTS]]),
      isolate("n3", three, { clients: true }),
      oneWayIn("n2", three),
      oneWayOut("n2", three),
      majorityMinority(three, ["n3"], { clientsWith: "minority" }),
      bridge(three, "n2"),
      heal(),
    ];
    for (const g of all) expect(() => validate(g, three)).not.toThrow();
  });

  it("rejects unknown nodes, self-grudges, clients holding a grudge and duplicates, all in one error", () => {
    expect(() => validate({ n9: ["n1"] }, three)).toThrow("invalid grudge n9 ⇸ n1: unknown node n9 (nodes: n1, n2, n3)");
    expect(() => validate({ n1: ["n1"] }, three)).toThrow("invalid grudge n1 ⇸ n1: n1 drops its own packets (nodes: n1, n2, n3)");
    expect(() => validate({ n1: ["n7"] }, three)).toThrow(/n1 drops packets from unknown node n7/);
    expect(() => validate({ [CLIENTS]: ["n1"] }, three)).toThrow(/"clients" cannot hold a grudge/);
    expect(() => validate({ n1: ["n2", "n2"] }, three)).toThrow(/n1 lists n2 twice/);
    expect(() => validate({ n1: ["n1", "x"], n2: ["n2"] }, three)).toThrow(
      /n1 drops its own packets; n1 drops packets from unknown node x; n2 drops its own packets/,
    );
  });
});
