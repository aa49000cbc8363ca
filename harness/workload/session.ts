import pg from "pg";
import type { DbCredentials, Endpoint } from "../platform/types.ts";

export interface SessionOptions {
  endpoint: Endpoint;
  credentials: DbCredentials;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  applicationName: string;
}

/**
 * One reconnecting PostgreSQL session. After any error the connection is thrown away: a timed-out or
 * half-closed connection must never carry the next probe operation.
 */
export class Session {
  private client?: pg.Client;

  constructor(private readonly opts: SessionOptions) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  async connect(): Promise<void> {
    if (this.client) return;
    const c = new pg.Client({
      host: this.opts.endpoint.host,
      port: this.opts.endpoint.port,
      user: this.opts.credentials.user,
      password: this.opts.credentials.password,
      database: this.opts.credentials.database,
      ...(this.opts.credentials.options ? { options: this.opts.credentials.options } : {}),
      ...(this.opts.credentials.ssl ? { ssl: this.opts.credentials.ssl } : {}),
      connectionTimeoutMillis: this.opts.connectTimeoutMs,
      query_timeout: this.opts.queryTimeoutMs,
      application_name: this.opts.applicationName,
      keepAlive: true,
    });
    // An idle connection that dies (server killed) emits 'error'; the next query reports it.
    c.on("error", () => this.drop());
    try {
      await c.connect();
    } catch (e) {
      c.end().catch(() => undefined);
      throw e;
    }
    this.client = c;
  }

  async query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    if (!this.client) throw new Error("not connected");
    try {
      return await this.client.query<R>(text, values);
    } catch (e) {
      // An ordinary ERROR leaves the session usable (a standby refusing a write, every probe tick);
      // anything else (timeout, FATAL, socket) may leave it half-open.
      const err = e as { code?: string; severity?: string };
      if (!(err.severity === "ERROR" && typeof err.code === "string" && !/^(08|57)/.test(err.code))) this.drop();
      throw e;
    }
  }

  drop(): void {
    const c = this.client;
    this.client = undefined;
    if (c) {
      // end() waits for the server; a dead server never answers, so the socket is destroyed instead.
      (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      c.end().catch(() => undefined);
    }
  }
}

/** Runs `tick` every `intervalMs` (no catch-up bursts after a slow tick) until `signal` aborts. */
export async function every(intervalMs: number, signal: AbortSignal, tick: () => Promise<void>): Promise<void> {
  let due = performance.now();
  while (!signal.aborted) {
    const wait = due - performance.now();
    if (wait > 0) {
      await new Promise<void>((resolve) => {
        const onAbort = () => (clearTimeout(t), resolve());
        const t = setTimeout(() => (signal.removeEventListener("abort", onAbort), resolve()), wait);
        signal.addEventListener("abort", onAbort, { once: true });
      });
      if (signal.aborted) return;
    }
    await tick();
    due = Math.max(due + intervalMs, performance.now());
  }
}
