import { splitRule } from "./local/net.ts";

/** Runs a command inside a member's network namespace, however the platform enters it (ip netns exec, docker exec). */
export type RunInNodeNetwork = (node: string, argv: string[]) => Promise<{ exitCode?: number; stdout: string; stderr: string }>;

/**
 * The Cluster operations that are iptables and tc inside a member's network, for every platform that can enter one:
 * rules are added there and only there, each carrying the run's tag, so clearing and listing find exactly ours.
 */
export class NodeNetworks {
  constructor(
    private readonly run: RunInNodeNetwork,
    private readonly nodes: readonly string[],
    private readonly tag: string,
  ) {}

  async iptables(node: string, args: string[]): Promise<void> {
    const r = await this.run(node, ["iptables", "-w", ...args]);
    if (r.exitCode !== 0) throw new Error(`iptables ${args.join(" ")} in ${node}: ${r.stderr.trim()}`);
  }

  /** Removes every rule carrying the tag from the node's network (every node's when none is named); returns how many. */
  async clearRules(node?: string): Promise<number> {
    let removed = 0;
    for (const name of node ? [node] : this.nodes) {
      const r = await this.run(name, ["iptables", "-w", "-S"]);
      for (const line of r.stdout.split("\n").filter((l) => l.startsWith("-A ") && l.includes(this.tag))) {
        await this.run(name, ["iptables", "-w", "-D", ...splitRule(line.slice(3))]);
        removed++;
      }
    }
    return removed;
  }

  /** Tagged rules left in the nodes' networks, as `node: iptables -S` lines. */
  async listRules(): Promise<string[]> {
    const out: string[] = [];
    for (const name of this.nodes) {
      const r = await this.run(name, ["iptables", "-w", "-S"]);
      out.push(...r.stdout.split("\n").filter((l) => l.includes(this.tag)).map((l) => `${name}: ${l}`));
    }
    return out;
  }

  async tc(node: string, args: string[]): Promise<void> {
    const r = await this.run(node, ["tc", ...args]);
    if (r.exitCode !== 0) throw new Error(`tc ${args.join(" ")} in ${node}: ${r.stderr.trim()}`);
  }

  /** Undefined when latency can be injected; otherwise why not (a kernel may lack sch_netem). */
  async latencyUnsupported(): Promise<string | undefined> {
    const node = this.nodes[0]!;
    const add = await this.run(node, ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]);
    if (add.exitCode === 0) {
      await this.run(node, ["tc", "qdisc", "del", "dev", "lo", "root"]);
      return undefined;
    }
    return add.stderr.trim() || `tc exited ${add.exitCode}`;
  }
}
