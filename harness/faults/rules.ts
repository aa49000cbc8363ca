/**
 * Pure translation of network faults into command argument vectors; nothing here runs a command. Every
 * vector runs inside the named node's network namespace (`ip netns exec <ns> iptables ...` or
 * `ip -n <ns> ...`): the root namespace, where the harness, the primary service and the clients live,
 * is never touched, so a fault can never leak onto the host's own rules.
 */
import { ETCD_CLIENT_PORT } from "../stack/patroni/config.ts";
import { CLIENTS, type Grudge } from "./grudge.ts";

/** One command to run inside `node`'s namespace: iptables arguments (without `iptables`) or ip arguments. */
export interface NodeCommand {
  node: string;
  args: string[];
}

/** iptables stores a comment of at most 256 bytes. */
const MAX_COMMENT = 256;

function checkTag(tag: string): void {
  if (tag === "" || Buffer.byteLength(tag) > MAX_COMMENT || /[\s"'\\]/.test(tag)) {
    throw new Error(`bad rule tag ${JSON.stringify(tag)}: it must be 1 to ${MAX_COMMENT} bytes with no whitespace, quotes or backslashes`);
  }
}

function checkAddress(what: string, a: unknown): string {
  const m = typeof a === "string" ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a) : null;
  if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new Error(`${what}: expected an IPv4 address, got ${JSON.stringify(a)}`);
  return a as string;
}

const comment = (tag: string) => ["-m", "comment", "--comment", tag];

/**
 * iptables rules that make every node drop what its grudge names. A peer node becomes one INPUT rule
 * (source = its address). CLIENTS becomes two rules, INPUT from `clientsAddress` and OUTPUT to it, so the
 * cut from the root namespace is complete although only the node's side holds rules. Rules come in the
 * grudge's order, without duplicates.
 */
export function grudgeRules(g: Grudge, addressOf: (node: string) => string, clientsAddress: string, tag: string): NodeCommand[] {
  checkTag(tag);
  const clients = checkAddress("clients address", clientsAddress);
  const out: NodeCommand[] = [];
  const seen = new Set<string>();
  const add = (node: string, args: string[]) => {
    const key = `${node}\0${args.join("\0")}`;
    if (!seen.has(key)) out.push({ node, args });
    seen.add(key);
  };
  for (const [node, peers] of Object.entries(g)) {
    if (node === CLIENTS) throw new Error(`"${CLIENTS}" cannot hold a grudge: the root namespace is never given rules`);
    for (const peer of peers) {
      if (peer === node) throw new Error(`${node} cannot drop its own packets`);
      if (peer === CLIENTS) {
        add(node, ["-A", "INPUT", "-s", clients, ...comment(tag), "-j", "DROP"]);
        add(node, ["-A", "OUTPUT", "-d", clients, ...comment(tag), "-j", "DROP"]);
      } else {
        add(node, ["-A", "INPUT", "-s", checkAddress(`address of ${peer}`, addressOf(peer)), ...comment(tag), "-j", "DROP"]);
      }
    }
  }
  return out;
}

/**
 * A shell command line that appends (`-A <chain> ...`) or deletes (`-D <chain> ...`) `rules` in the filter table in one
 * iptables-restore commit (--noflush: nothing else is touched), so that they take effect together. The lines go as
 * arguments, never through the shell's parser; a word the restore format cannot carry unquoted is refused.
 */
export function iptablesRestoreArgv(rules: readonly (readonly string[])[]): string[] {
  if (rules.length === 0) throw new Error("no rules to restore");
  const lines = rules.map((args) => {
    if ((args[0] !== "-A" && args[0] !== "-D") || args.length < 2) throw new Error(`expected an "-A <chain> ..." or "-D <chain> ..." rule, got ${JSON.stringify(args.join(" "))}`);
    for (const a of args) if (a === "" || /[\s"'\\#]/.test(a)) throw new Error(`rule word ${JSON.stringify(a)} cannot go into iptables-restore unquoted`);
    return args.join(" ");
  });
  return ["sh", "-c", 'printf "%s\\n" "$@" | iptables-restore -w --noflush', "sh", "*filter", ...lines, "COMMIT"];
}

function withCommand(args: readonly string[], command: "-D" | "-C"): string[] {
  if (args[0] !== "-A" || args.length < 2) throw new Error(`expected an "-A <chain> ..." rule, got ${JSON.stringify(args.join(" "))}`);
  return [command, ...args.slice(1)];
}

/**
 * The `-D` form of an `-A` rule: deletes exactly one identical rule. Running it when the rule is gone
 * fails harmlessly ("Bad rule"), so a heal may run it again; `checkArgs` tells whether it is still there.
 */
export function deleteArgs(args: readonly string[]): string[] {
  return withCommand(args, "-D");
}

/** The `-C` form of an `-A` rule: exit status 0 when the rule exists. */
export function checkArgs(args: readonly string[]): string[] {
  return withCommand(args, "-C");
}

/**
 * Cuts `node`'s Patroni from every etcd member, its own included, while that etcd member stays in the
 * etcd cluster: one OUTPUT rule dropping TCP to port 2379, whatever the destination.
 *
 * Why this is enough: Patroni reaches etcd only as a client, on port 2379 (the etcd3 hosts list). The
 * OUTPUT chain sees every packet a local process sends, including those to 127.0.0.1 and to the node's
 * own address (which never leave through eth0), so no destination escapes; dropping the client's
 * outgoing packets also kills connections that were already open. etcd members talk to each other on
 * the peer port 2380, which no rule touches, so the local member keeps voting and replicating and the
 * etcd quorum is intact. Other nodes' Patroni can still use this node's member: their requests arrive on
 * INPUT and the answers leave with *source* port 2379, which the rule does not match.
 *
 * One side effect unless `uidOwner` is given: etcd's own gRPC gateway (the JSON API Patroni's etcd3
 * client speaks) is a gRPC client of its own listener, on this port, so without an owner match the local
 * member stops answering JSON requests from every node (its Raft role is unaffected). With `uidOwner`
 * (the user Patroni runs as, "postgres" on the local platform, where etcd runs as root) only that user's
 * packets are dropped. PostgreSQL runs as the same user but never talks to etcd.
 */
export function dcsCutRules(node: string, tag: string, opts: { uidOwner?: string | number } = {}): NodeCommand[] {
  checkTag(tag);
  const owner = opts.uidOwner;
  if (owner !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(String(owner))) {
    throw new Error(`bad uidOwner ${JSON.stringify(owner)}: expected a user name or uid`);
  }
  const ownerMatch = owner === undefined ? [] : ["-m", "owner", "--uid-owner", String(owner)];
  return [{ node, args: ["-A", "OUTPUT", "-p", "tcp", "--dport", String(ETCD_CLIENT_PORT), ...ownerMatch, ...comment(tag), "-j", "DROP"] }];
}

/** `probability` with at most 4 decimals and no trailing zeros: 0.1 → "0.1", 0.123456 → "0.1235". */
export function renderProbability(probability: number): string {
  if (!(Number.isFinite(probability) && probability > 0 && probability < 1)) {
    throw new Error(`packet loss probability must be a number with 0 < P < 1, got ${probability}`);
  }
  const s = String(Number(probability.toFixed(4)));
  if (s === "0" || s === "1") throw new Error(`packet loss probability ${probability} rounds to ${s} at 4 decimals; use 0.0001 to 0.9999`);
  return s;
}

/** Random loss of incoming packets at `node` (every source, clients included), with probability P. */
export function lossRules(node: string, probability: number, tag: string): NodeCommand[] {
  checkTag(tag);
  const p = renderProbability(probability);
  return [{ node, args: ["-A", "INPUT", "-m", "statistic", "--mode", "random", "--probability", p, ...comment(tag), "-j", "DROP"] }];
}

/**
 * `ip` arguments that take the node's only link down. Its addresses stay; the kernel drops the connected
 * route and puts it back when the link comes up again, so linkUpCommand restores the network exactly.
 */
export function linkDownCommand(node: string): NodeCommand {
  return { node, args: ["link", "set", "eth0", "down"] };
}

export function linkUpCommand(node: string): NodeCommand {
  return { node, args: ["link", "set", "eth0", "up"] };
}

export const NETEM_REFUSAL =
  "latency faults need the sch_netem qdisc, which this kernel does not have (tc: Specified qdisc kind is unknown); use packet-loss, or run on a kernel with CONFIG_NET_SCH_NETEM";

/**
 * Whether `tc qdisc add ... netem` can work, from the text of /proc/modules and, when there is one, the
 * kernel config (/boot/config-$(uname -r) or /proc/config.gz, uncompressed). The module being loaded is
 * enough; otherwise the config decides: "=y" is built in (built-ins never show in /proc/modules), "=m"
 * is a module the kernel loads on demand. Without a config, a module that is not loaded counts as
 * absent: that refuses a latency fault the kernel might have run, rather than failing halfway.
 */
export function netemAvailable(procModulesText: string, kernelConfigText?: string): boolean {
  for (const line of procModulesText.split("\n")) {
    const [name, , , , state] = line.trim().split(/\s+/);
    if (name === "sch_netem" && state !== "Unloading") return true;
  }
  if (kernelConfigText === undefined) return false;
  const m = /^CONFIG_NET_SCH_NETEM=([ym])\s*$/m.exec(kernelConfigText);
  return m !== null;
}
