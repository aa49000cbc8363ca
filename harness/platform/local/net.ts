import { existsSync, writeFileSync } from "node:fs";
import { execa } from "execa";
import { runNames, type Subnet } from "./names.ts";

/**
 * Commands for `ip -batch -`: one call for the root namespace, then one per node namespace (batch lines
 * cannot carry `-n`). Forks dominate topology time otherwise.
 */
export function topologyBatches(runId: string, subnet: Subnet, nodes: number): Array<{ netns?: string; lines: string[] }> {
  const n = runNames(runId);
  const root = [
    `link add name ${n.bridge} type bridge`,
    `addr add ${subnet.bridgeAddress}/24 dev ${n.bridge}`,
    `link set ${n.bridge} up`,
  ];
  const inside: Array<{ netns?: string; lines: string[] }> = [];
  for (let i = 1; i <= nodes; i++) {
    const ns = n.netns(i);
    root.push(
      `netns add ${ns}`,
      // The peer is born inside the namespace as eth0: nothing named eth0 ever exists in the root one.
      `link add ${n.vethHost(i)} type veth peer name eth0 netns ${ns}`,
      `link set ${n.vethHost(i)} master ${n.bridge} up`,
    );
    inside.push({ netns: ns, lines: [`addr add ${subnet.nodeAddress(i)}/24 dev eth0`, "link set eth0 up", "link set lo up"] });
  }
  return [{ lines: root }, ...inside];
}

/** The comment that tags our root-namespace iptables rules, so cleanup finds them by run id. */
export function ruleComment(runId: string): string {
  return `pgchaos-${runId}`;
}

export async function createTopology(runId: string, subnet: Subnet, nodes: number): Promise<void> {
  for (const b of topologyBatches(runId, subnet, nodes)) {
    await execa("ip", [...(b.netns ? ["-n", b.netns] : []), "-batch", "-"], { input: b.lines.join("\n") + "\n" });
  }
  // Hosts with Docker set the FORWARD policy to DROP, and br_netfilter then drops bridged traffic
  // between our namespaces. One tagged rule lets the bridge forward to itself.
  const br = runNames(runId).bridge;
  await execa("iptables", ["-I", "FORWARD", "-i", br, "-o", br, "-m", "comment", "--comment", ruleComment(runId), "-j", "ACCEPT"]);
  // And frames between our namespaces stay out of iptables altogether, whatever a Docker daemon (the system's, or
  // one started later) does to br_netfilter and its global bridge-nf-call-iptables: the bridge's own switch.
  for (const f of ["nf_call_iptables", "nf_call_ip6tables", "nf_call_arptables"]) {
    const path = `/sys/class/net/${br}/bridge/${f}`;
    if (existsSync(path)) writeFileSync(path, "0");
  }
}

export async function linkExists(name: string): Promise<boolean> {
  const r = await execa("ip", ["link", "show", "dev", name], { reject: false });
  return r.exitCode === 0;
}

export async function listNetns(): Promise<string[]> {
  const r = await execa("ip", ["netns", "list"], { reject: false });
  return r.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);
}

export async function listLinks(): Promise<string[]> {
  const r = await execa("ip", ["-o", "link", "show"], { reject: false });
  return r.stdout
    .split("\n")
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? "")
    .filter(Boolean);
}

/** Prefixes of every IPv4 route and address on the machine, for subnet picking. */
export async function usedPrefixes(): Promise<string[]> {
  const r = await execa("ip", ["-4", "route", "show", "table", "all"], { reject: false });
  return r.stdout
    .split("\n")
    .map((l) => l.split(" ").find((w) => /^\d+\.\d+\.\d+\.\d+/.test(w)) ?? "")
    .filter(Boolean);
}

/** Root-namespace iptables rules carrying a pgchaos comment, as `-A ...` lines. */
export async function taggedRules(runId?: string): Promise<string[]> {
  const r = await execa("iptables", ["-S", "FORWARD"], { reject: false });
  const tag = runId ? ruleComment(runId) : "pgchaos-";
  return r.stdout.split("\n").filter((l) => l.startsWith("-A ") && l.includes(tag));
}

/**
 * Deletes namespaces, links and tagged rules; every step tolerates objects that are already gone. The
 * kernel frees a namespace (and the veth ends in it) asynchronously, so the result is verified and
 * anything left is retried one by one; what still survives is reported with ip's own error.
 */
export async function removeTopology(opts: { netns: string[]; links: string[]; runId?: string }): Promise<void> {
  const batch = [...opts.netns.map((ns) => `netns delete ${ns}`), ...opts.links.map((l) => `link delete ${l}`)];
  if (batch.length > 0) {
    // -force keeps going past objects that no longer exist.
    await execa("ip", ["-force", "-batch", "-"], { input: batch.join("\n") + "\n", reject: false });
  }
  for (const rule of await taggedRules(opts.runId)) {
    await execa("iptables", ["-D", ...splitRule(rule.slice(3))], { reject: false });
  }
  const errors: string[] = [];
  const deadline = performance.now() + 3000;
  for (;;) {
    const ns = new Set(await listNetns());
    const links = new Set(await listLinks());
    const leftNs = opts.netns.filter((n) => ns.has(n));
    const leftLinks = opts.links.filter((l) => links.has(l));
    if (leftNs.length + leftLinks.length === 0) return;
    if (performance.now() > deadline) {
      throw new Error(`could not remove ${[...leftNs, ...leftLinks].join(", ")}${errors.length ? `: ${[...new Set(errors)].join("; ")}` : ""}`);
    }
    for (const n of leftNs) {
      const r = await execa("ip", ["netns", "delete", n], { reject: false });
      if (r.exitCode !== 0) errors.push(r.stderr.trim());
    }
    for (const l of leftLinks) {
      const r = await execa("ip", ["link", "delete", l], { reject: false });
      if (r.exitCode !== 0 && !/Cannot find device/.test(r.stderr)) errors.push(r.stderr.trim());
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Splits an `iptables -S` rule into argv, honouring double quotes around comments. Inside quotes iptables
 * backslash-escapes `"`, `\` and `'` (xtables_save_string), so those escapes are undone.
 */
export function splitRule(rule: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m; m = re.exec(rule)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!);
  return out;
}
