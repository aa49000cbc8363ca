import { describe, expect, it } from "vitest";
import { splitRule } from "../platform/local/net.ts";
import { CLIENTS, isolate, oneWayIn } from "./grudge.ts";
import {
  checkArgs,
  dcsCutRules,
  deleteArgs,
  grudgeRules,
  iptablesRestoreArgv,
  linkDownCommand,
  linkUpCommand,
  lossRules,
  NETEM_REFUSAL,
  netemAvailable,
  renderProbability,
} from "./rules.ts";

const three = ["n1", "n2", "n3"];
const addressOf = (n: string) => `10.213.7.${n.slice(1)}`;
const CLIENT_ADDR = "10.213.7.254";
const TAG = "pgchaos-abc123-f1";

const drop = (chain: string, flag: "-s" | "-d", addr: string) => ["-A", chain, flag, addr, "-m", "comment", "--comment", TAG, "-j", "DROP"];

describe("grudgeRules", () => {
  it("makes one INPUT rule per dropped peer, in the node that drops", () => {
    expect(grudgeRules(oneWayIn("n1", three), addressOf, CLIENT_ADDR, TAG)).toEqual([
      { node: "n1", args: drop("INPUT", "-s", "10.213.7.2") },
      { node: "n1", args: drop("INPUT", "-s", "10.213.7.3") },
    ]);
  });

  it("turns clients into INPUT and OUTPUT rules inside the node, never a rule elsewhere", () => {
    const rules = grudgeRules(isolate("n2", three, { clients: true }), addressOf, CLIENT_ADDR, TAG);
    expect(rules).toEqual([
      { node: "n2", args: drop("INPUT", "-s", "10.213.7.1") },
      { node: "n2", args: drop("INPUT", "-s", "10.213.7.3") },
      { node: "n2", args: drop("INPUT", "-s", CLIENT_ADDR) },
      { node: "n2", args: drop("OUTPUT", "-d", CLIENT_ADDR) },
      { node: "n1", args: drop("INPUT", "-s", "10.213.7.2") },
      { node: "n3", args: drop("INPUT", "-s", "10.213.7.2") },
    ]);
    for (const r of rules) expect(three).toContain(r.node);
  });

  it("makes no rule for the empty grudge, and no duplicate rule", () => {
    expect(grudgeRules({}, addressOf, CLIENT_ADDR, TAG)).toEqual([]);
    expect(grudgeRules({ n1: ["n2", "n2", CLIENTS, CLIENTS] }, addressOf, CLIENT_ADDR, TAG)).toHaveLength(3);
  });

  it("refuses what it cannot express", () => {
    expect(() => grudgeRules({ [CLIENTS]: ["n1"] }, addressOf, CLIENT_ADDR, TAG)).toThrow(/"clients" cannot hold a grudge/);
    expect(() => grudgeRules({ n1: ["n1"] }, addressOf, CLIENT_ADDR, TAG)).toThrow("n1 cannot drop its own packets");
    expect(() => grudgeRules({ n1: ["n9"] }, () => undefined as unknown as string, CLIENT_ADDR, TAG)).toThrow(
      "address of n9: expected an IPv4 address, got undefined",
    );
    expect(() => grudgeRules({}, addressOf, "10.213.7.256", TAG)).toThrow(/clients address: expected an IPv4 address/);
    expect(() => grudgeRules({}, addressOf, CLIENT_ADDR, "two words")).toThrow(/bad rule tag "two words"/);
    expect(() => grudgeRules({}, addressOf, CLIENT_ADDR, "")).toThrow(/bad rule tag ""/);
    expect(() => grudgeRules({}, addressOf, CLIENT_ADDR, "x".repeat(257))).toThrow(/1 to 256 bytes/);
  });

  it("round-trips through iptables -S text, which is what cleanup and heal compare", () => {
    for (const r of grudgeRules(isolate("n1", three, { clients: true }), addressOf, CLIENT_ADDR, TAG)) {
      expect(splitRule(r.args.join(" "))).toEqual(r.args);
    }
  });
});

describe("iptablesRestoreArgv", () => {
  it("appends every rule in one commit, the lines passed as arguments, never parsed by the shell", () => {
    const argv = iptablesRestoreArgv([["-A", "INPUT", "-s", "10.0.0.2", "-j", "DROP"], ["-A", "OUTPUT", "-d", "10.0.0.2", "-j", "DROP"]]);
    expect(argv.slice(0, 4)).toEqual(["sh", "-c", 'printf "%s\\n" "$@" | iptables-restore -w --noflush', "sh"]);
    expect(argv.slice(4)).toEqual(["*filter", "-A INPUT -s 10.0.0.2 -j DROP", "-A OUTPUT -d 10.0.0.2 -j DROP", "COMMIT"]);
  });

  it("refuses what the restore format would misread, and nothing to do", () => {
    expect(() => iptablesRestoreArgv([])).toThrow(/no rules/);
    expect(() => iptablesRestoreArgv([["-I", "INPUT", "-j", "DROP"]])).toThrow(/expected an "-A <chain> \.\.\." or "-D <chain> \.\.\." rule/);
    expect(iptablesRestoreArgv([["-D", "INPUT", "-s", "10.0.0.2/32", "-j", "DROP"]]).slice(4)).toEqual(["*filter", "-D INPUT -s 10.0.0.2/32 -j DROP", "COMMIT"]);
    expect(() => iptablesRestoreArgv([["-A", "INPUT", "-m", "comment", "--comment", "two words", "-j", "DROP"]])).toThrow(/cannot go into iptables-restore unquoted/);
    expect(() => iptablesRestoreArgv([["-A", "INPUT", "-j", "DROP #"]])).toThrow(/unquoted/);
  });
});

describe("deleteArgs / checkArgs", () => {
  it("turn an -A rule into its exact -D and -C forms", () => {
    const [rule] = grudgeRules(oneWayIn("n1", three), addressOf, CLIENT_ADDR, TAG);
    expect(deleteArgs(rule!.args)).toEqual(["-D", ...rule!.args.slice(1)]);
    expect(checkArgs(rule!.args)).toEqual(["-C", ...rule!.args.slice(1)]);
    expect(rule!.args[0]).toBe("-A"); // not mutated
  });

  it("refuse anything but an -A rule", () => {
    expect(() => deleteArgs(["-I", "INPUT", "-j", "DROP"])).toThrow('expected an "-A <chain> ..." rule, got "-I INPUT -j DROP"');
    expect(() => deleteArgs(["-A"])).toThrow(/expected an "-A <chain> \.\.\." rule/);
    expect(() => checkArgs([])).toThrow(/expected an "-A <chain> \.\.\." rule/);
  });
});

describe("dcsCutRules", () => {
  it("drops the node's outgoing TCP to the etcd client port, any destination, and nothing on the peer port", () => {
    const rules = dcsCutRules("n1", TAG);
    expect(rules).toEqual([{ node: "n1", args: ["-A", "OUTPUT", "-p", "tcp", "--dport", "2379", "-m", "comment", "--comment", TAG, "-j", "DROP"] }]);
    const args = rules[0]!.args;
    expect(args).not.toContain("-d"); // loopback and the node's own address are covered too
    expect(args).not.toContain("2380");
    expect(args).not.toContain("--sport"); // answers of the local member to other nodes still leave
  });

  it("can limit the drop to Patroni's user, so etcd's own gateway keeps working", () => {
    expect(dcsCutRules("n2", TAG, { uidOwner: "postgres" })[0]!.args).toEqual([
      "-A", "OUTPUT", "-p", "tcp", "--dport", "2379", "-m", "owner", "--uid-owner", "postgres", "-m", "comment", "--comment", TAG, "-j", "DROP",
    ]);
    expect(dcsCutRules("n2", TAG, { uidOwner: 105 })[0]!.args).toContain("105");
    expect(() => dcsCutRules("n2", TAG, { uidOwner: "post gres" })).toThrow(/bad uidOwner "post gres"/);
    expect(() => dcsCutRules("n2", "bad tag")).toThrow(/bad rule tag/);
  });
});

describe("lossRules", () => {
  it("drops incoming packets at random with the given probability", () => {
    expect(lossRules("n3", 0.2, TAG)).toEqual([
      { node: "n3", args: ["-A", "INPUT", "-m", "statistic", "--mode", "random", "--probability", "0.2", "-m", "comment", "--comment", TAG, "-j", "DROP"] },
    ]);
  });

  it("renders at most 4 decimals", () => {
    expect(renderProbability(0.1)).toBe("0.1");
    expect(renderProbability(0.123456)).toBe("0.1235");
    expect(renderProbability(0.0001)).toBe("0.0001");
    expect(renderProbability(0.9999)).toBe("0.9999");
    expect(renderProbability(1 / 3)).toBe("0.3333");
  });

  it.each([0, 1, -0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("rejects probability %s", (p) => {
    expect(() => lossRules("n1", p, TAG)).toThrow(/0 < P < 1/);
  });

  it("rejects a probability that rounds to 0 or 1", () => {
    expect(() => renderProbability(0.00001)).toThrow("packet loss probability 0.00001 rounds to 0 at 4 decimals; use 0.0001 to 0.9999");
    expect(() => renderProbability(0.99999)).toThrow(/rounds to 1 at 4 decimals/);
  });
});

describe("link down / up", () => {
  it("are ip link commands on eth0 inside the node", () => {
    expect(linkDownCommand("n2")).toEqual({ node: "n2", args: ["link", "set", "eth0", "down"] });
    expect(linkUpCommand("n2")).toEqual({ node: "n2", args: ["link", "set", "eth0", "up"] });
  });
});

describe("netemAvailable", () => {
  const modules = [
    "nf_tables 299008 12 nft_compat,nft_counter, Live 0x0000000000000000",
    "sch_netem 20480 0 - Live 0x0000000000000000",
    "bridge 311296 0 - Live 0x0000000000000000",
  ].join("\n");
  const without = modules.replace(/^sch_netem.*\n/m, "");

  it("is available when the module is loaded", () => {
    expect(netemAvailable(modules)).toBe(true);
    expect(netemAvailable(modules, "# CONFIG_NET_SCH_NETEM is not set\n")).toBe(true);
  });

  it("is not when the module is unloading, or not loaded and no config says otherwise", () => {
    expect(netemAvailable(modules.replace("sch_netem 20480 0 - Live", "sch_netem 20480 0 - Unloading"))).toBe(false);
    expect(netemAvailable(without)).toBe(false);
    expect(netemAvailable("")).toBe(false);
    // A similar name is not netem.
    expect(netemAvailable("sch_netem_x 1 0 - Live 0x0\n")).toBe(false);
  });

  it("follows the kernel config otherwise: built in or a module", () => {
    expect(netemAvailable(without, "CONFIG_NET_SCH_PRIO=m\nCONFIG_NET_SCH_NETEM=y\n")).toBe(true);
    expect(netemAvailable(without, "CONFIG_NET_SCH_NETEM=m\n")).toBe(true);
    expect(netemAvailable(without, "# CONFIG_NET_SCH_NETEM is not set\n")).toBe(false);
    expect(netemAvailable(without, "CONFIG_NET_SCH_NETEM_X=y\n")).toBe(false);
  });

  it("has the exact refusal message", () => {
    expect(NETEM_REFUSAL).toBe(
      "latency faults need the sch_netem qdisc, which this kernel does not have (tc: Specified qdisc kind is unknown); use packet-loss, or run on a kernel with CONFIG_NET_SCH_NETEM",
    );
  });
});
