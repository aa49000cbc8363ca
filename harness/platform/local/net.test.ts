import { describe, expect, it } from "vitest";
import { ruleComment, splitRule, topologyBatches } from "./net.ts";
import { runNames, subnet } from "./names.ts";

describe("topologyBatches", () => {
  const runId = "abc123";
  const n = runNames(runId);
  const s = subnet("10.213.45");

  it("makes one root batch then one batch per node namespace", () => {
    const batches = topologyBatches(runId, s, 3);
    expect(batches).toHaveLength(4);
    expect(batches[0]!.netns).toBeUndefined();
    expect(batches.slice(1).map((b) => b.netns)).toEqual([n.netns(1), n.netns(2), n.netns(3)]);
  });

  it("creates the bridge with the subnet's bridge address and brings it up before any node", () => {
    const root = topologyBatches(runId, s, 2)[0]!.lines;
    expect(root.slice(0, 3)).toEqual([
      "link add name pgcabc123br type bridge",
      "addr add 10.213.45.254/24 dev pgcabc123br",
      "link set pgcabc123br up",
    ]);
  });

  it("creates each namespace, then its veth with the peer born as eth0 inside it, enslaved to the bridge", () => {
    const root = topologyBatches(runId, s, 2)[0]!.lines;
    for (const i of [1, 2]) {
      const addNs = root.indexOf(`netns add ${n.netns(i)}`);
      const addVeth = root.indexOf(`link add ${n.vethHost(i)} type veth peer name eth0 netns ${n.netns(i)}`);
      const master = root.indexOf(`link set ${n.vethHost(i)} master ${n.bridge} up`);
      expect(addNs, `node ${i} netns`).toBeGreaterThan(2);
      expect(addVeth).toBeGreaterThan(addNs);
      expect(master).toBeGreaterThan(addVeth);
    }
    expect(root).toHaveLength(3 + 2 * 3);
    // The root namespace never holds an interface named eth0.
    expect(root.some((l) => /^link add eth0\b/.test(l) || / dev eth0\b/.test(l))).toBe(false);
  });

  it("gives each node its own address on eth0 and brings eth0 and lo up", () => {
    const batches = topologyBatches(runId, s, 3);
    for (const i of [1, 2, 3]) {
      const b = batches[i]!;
      expect(b.netns).toBe(n.netns(i));
      expect(b.lines).toEqual([`addr add 10.213.45.${i}/24 dev eth0`, "link set eth0 up", "link set lo up"]);
    }
  });

  it("contains no -n flags (batch lines cannot carry them)", () => {
    for (const b of topologyBatches(runId, s, 3)) for (const l of b.lines) expect(l).not.toMatch(/(^|\s)-n\s/);
  });

  it("makes only the bridge for zero nodes", () => {
    const batches = topologyBatches(runId, s, 0);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.lines).toHaveLength(3);
  });

  it("rejects a bad run id", () => {
    expect(() => topologyBatches("nope", s, 1)).toThrow(/bad run id/);
  });
});

describe("ruleComment", () => {
  it("tags rules with the run id under a common prefix", () => {
    expect(ruleComment("abc123")).toBe("pgchaos-abc123");
    expect(ruleComment("abc123").startsWith("pgchaos-")).toBe(true);
    expect(ruleComment("abc123")).not.toBe(ruleComment("abc124"));
  });
});

describe("splitRule", () => {
  it("splits an unquoted rule on whitespace", () => {
    expect(splitRule("FORWARD -i pgcabc123br -o pgcabc123br -m comment --comment pgchaos-abc123 -j ACCEPT")).toEqual([
      "FORWARD", "-i", "pgcabc123br", "-o", "pgcabc123br", "-m", "comment", "--comment", "pgchaos-abc123", "-j", "ACCEPT",
    ]);
  });

  it("keeps a quoted comment with spaces as one argument, without the quotes", () => {
    expect(splitRule('FORWARD -i br0 -m comment --comment "pgchaos abc123 bridge" -j ACCEPT')).toEqual([
      "FORWARD", "-i", "br0", "-m", "comment", "--comment", "pgchaos abc123 bridge", "-j", "ACCEPT",
    ]);
  });

  it("undoes the backslash escapes iptables -S writes inside quotes", () => {
    // iptables saves the comment  say "hi" \ it's  as  "say \"hi\" \\ it\'s"
    expect(splitRule(String.raw`FORWARD -m comment --comment "say \"hi\" \\ it\'s" -j ACCEPT`)).toEqual([
      "FORWARD", "-m", "comment", "--comment", `say "hi" \\ it's`, "-j", "ACCEPT",
    ]);
  });

  it("keeps an empty quoted string as an empty argument", () => {
    expect(splitRule('X --comment "" -j ACCEPT')).toEqual(["X", "--comment", "", "-j", "ACCEPT"]);
  });

  it("tolerates repeated and trailing whitespace", () => {
    expect(splitRule("  FORWARD   -j  ACCEPT  ")).toEqual(["FORWARD", "-j", "ACCEPT"]);
    expect(splitRule("")).toEqual([]);
  });

  it("round-trips the argv createTopology inserts once iptables -S prints it", () => {
    // What `iptables -S FORWARD` prints for the rule createTopology inserts, minus the leading "-A ".
    const printed = "-A FORWARD -i pgcabc123br -o pgcabc123br -m comment --comment pgchaos-abc123 -j ACCEPT";
    expect(splitRule(printed.slice(3))).toEqual([
      "FORWARD", "-i", "pgcabc123br", "-o", "pgcabc123br", "-m", "comment", "--comment", ruleComment("abc123"), "-j", "ACCEPT",
    ]);
  });
});
