import type { HistoryWriter } from "../history/writer.ts";
import type { DbCredentials, Endpoint } from "../platform/types.ts";
import { classifyWriteError, describeError } from "./outcome.ts";
import { INSERT_WRITE_SQL } from "./schema.ts";
import { Session, every } from "./session.ts";

export interface WriteProbeOptions {
  endpoint: Endpoint;
  credentials: DbCredentials;
  intervalMs: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  history: HistoryWriter;
  /** Maps a server address to a node name. */
  nodeOf: (address: string) => string;
}

export interface ProbeCounts {
  attempts: number;
  ok: number;
  fail: number;
  info: number;
}

/**
 * A client of the primary service inserting unique increasing ids, one at a time, each recorded as
 * invoke then ok / fail / info in the history.
 */
export class WriteProbe {
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private nextId = 1;
  readonly counts: ProbeCounts = { attempts: 0, ok: 0, fail: 0, info: 0 };
  /** performance.now() of the latest acknowledged write. */
  lastOkAt = -Infinity;

  constructor(private readonly opts: WriteProbeOptions) {}

  start(): void {
    const session = new Session({ ...this.opts, endpoint: this.opts.endpoint, applicationName: "pgchaos-writer" });
    this.loop = every(this.opts.intervalMs, this.abort.signal, () => this.once(session)).finally(() => session.drop());
  }

  private async once(session: Session): Promise<void> {
    const h = this.opts.history;
    const id = this.nextId++;
    this.counts.attempts++;
    h.record({ process: "writer", type: "invoke", f: "write", value: id });
    try {
      await session.connect();
    } catch (e) {
      this.counts.fail++;
      h.record({ process: "writer", type: "fail", f: "write", value: id, error: `connect: ${describeError(e)}` });
      return;
    }
    try {
      const r = await session.query<{ addr: string; timeline: number }>(INSERT_WRITE_SQL, [id]);
      const row = r.rows[0]!;
      this.counts.ok++;
      this.lastOkAt = performance.now();
      h.record({ process: "writer", type: "ok", f: "write", value: id, node: this.opts.nodeOf(row.addr), timeline: row.timeline });
    } catch (e) {
      const type = classifyWriteError(e, true);
      this.counts[type]++;
      h.record({ process: "writer", type, f: "write", value: id, error: describeError(e) });
    }
  }

  async stop(): Promise<ProbeCounts> {
    this.abort.abort();
    await this.loop;
    return this.counts;
  }
}
