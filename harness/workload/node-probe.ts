import { createInterface } from "node:readline";
import { resolve } from "node:path";
import type { ChildProcess } from "node:child_process";
import type { HistoryWriter } from "../history/writer.ts";
import type { Cluster } from "../platform/types.ts";
import type { AgentLine } from "./agent.ts";

export interface NodeProbeOptions {
  cluster: Cluster;
  intervalMs: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  history: HistoryWriter;
}

const AGENT = resolve(import.meta.dirname, "agent.ts");

/**
 * Direct probes of each node from inside its own network (see agent.ts): every interval each node is
 * asked to take a write, and the history records whether it was writable, read-only or unreachable.
 * Two nodes writable at once is split-brain; the failover checker also reads when the new primary
 * became writable.
 */
export class NodeProbes {
  private readonly agents: Array<{ node: string; child: ChildProcess; done: Promise<void> }> = [];

  constructor(private readonly opts: NodeProbeOptions) {}

  start(): void {
    const { cluster, history } = this.opts;
    for (const node of cluster.nodes) {
      const ep = cluster.endpoint(node);
      const child = cluster.runInNodeNetwork(node, ["node", "--import", "tsx", AGENT], {
        PGHOST: ep.host,
        PGPORT: String(ep.port),
        PGUSER: cluster.credentials.user,
        PGPASSWORD: cluster.credentials.password,
        PGDATABASE: cluster.credentials.database,
        ...(cluster.credentials.options ? { PGOPTIONS: cluster.credentials.options } : {}),
        // node-postgres's name for TLS without verifying the server's certificate (the agent's Session passes it on).
        ...(cluster.credentials.ssl ? { PGSSLMODE: cluster.credentials.ssl.rejectUnauthorized ? "require" : "no-verify" } : {}),
        PGCHAOS_NODE: node,
        PGCHAOS_INTERVAL_MS: String(this.opts.intervalMs),
        PGCHAOS_CONNECT_TIMEOUT_MS: String(this.opts.connectTimeoutMs),
        PGCHAOS_QUERY_TIMEOUT_MS: String(this.opts.queryTimeoutMs),
      });
      const process = `probe-${node}`;
      const lines = createInterface({ input: child.stdout! });
      lines.on("line", (text) => {
        let l: AgentLine;
        try {
          l = JSON.parse(text) as AgentLine;
        } catch {
          return;
        }
        if (history.closed) return;
        if (l.type === "invoke") {
          history.record({ process, type: "invoke", f: "node-probe", node, value: l.seq, time: l.time });
        } else {
          const value = { state: l.state ?? "unreachable", timeline: l.timeline, seq: l.seq };
          history.record({ process, type: l.type, f: "node-probe", node, value, error: l.error, time: l.time });
        }
      });
      const done = new Promise<void>((res) => child.once("exit", () => res()));
      this.agents.push({ node, child, done });
    }
  }

  async stop(): Promise<void> {
    for (const a of this.agents) a.child.kill("SIGTERM");
    const all = Promise.all(this.agents.map((a) => a.done));
    const ended = await Promise.race([all.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5000))]);
    if (!ended) for (const a of this.agents) a.child.kill("SIGKILL");
    await Promise.race([all, new Promise((r) => setTimeout(r, 2000))]);
  }
}
