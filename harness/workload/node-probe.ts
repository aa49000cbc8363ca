import type { HistoryWriter } from "../history/writer.ts";
import type { NodeProbeValue } from "../history/types.ts";
import type { Endpoint } from "../platform/types.ts";
import { classifyWriteError, describeError, isReadOnlyError } from "./outcome.ts";
import { INSERT_NODE_PROBE_SQL } from "./schema.ts";
import { Session, every } from "./session.ts";

export interface NodeProbeOptions {
  nodes: Array<{ name: string; endpoint: Endpoint }>;
  credentials: { user: string; password: string; database: string };
  intervalMs: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  history: HistoryWriter;
}

/**
 * Direct probes of each node, bypassing the primary service: every interval each node is asked to take
 * a write, and the history records whether it was writable, read-only or unreachable. Two nodes writable
 * at once is split-brain; the failover checker also reads when the new primary became writable.
 */
export class NodeProbes {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(private readonly opts: NodeProbeOptions) {}

  start(): void {
    for (const n of this.opts.nodes) {
      const session = new Session({ ...this.opts, endpoint: n.endpoint, applicationName: `pgchaos-probe-${n.name}` });
      let seq = 0;
      const loop = every(this.opts.intervalMs, this.abort.signal, () => this.once(n.name, session, ++seq));
      this.loops.push(loop.finally(() => session.drop()));
    }
  }

  private async once(node: string, session: Session, seq: number): Promise<void> {
    const h = this.opts.history;
    const process = `probe-${node}`;
    h.record({ process, type: "invoke", f: "node-probe", node, value: seq });
    const done = (type: "ok" | "fail" | "info", value: NodeProbeValue, error?: string) =>
      h.record({ process, type, f: "node-probe", node, value: { ...value, seq }, error });
    try {
      await session.connect();
    } catch (e) {
      return void done("fail", { state: "unreachable" }, `connect: ${describeError(e)}`);
    }
    try {
      const r = await session.query<{ timeline: number }>(INSERT_NODE_PROBE_SQL, [node, seq]);
      done("ok", { state: "writable", timeline: r.rows[0]!.timeline });
    } catch (e) {
      if (isReadOnlyError(e)) return void done("fail", { state: "read-only" }, describeError(e));
      // "info": the node may have taken the write before the connection broke.
      done(classifyWriteError(e, true), { state: "unreachable" }, describeError(e));
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }
}
