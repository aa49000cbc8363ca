import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import type { Endpoint } from "../types.ts";
import type { HaproxyCheck } from "../../stack/patroni/config.ts";

/**
 * How long one check may take, connection and query together: under haproxy's `timeout check 1s`, whose one failed
 * check marks a member down (fall 1) and cuts its sessions.
 */
const CHECK_TIMEOUT_MS = 800;

/**
 * The primary service's health check for stacks with no HTTP endpoint of their own (pg_auto_failover, repmgr): one
 * HTTP listener a member on the clients' address, which answers 200 while that member's PostgreSQL takes writes and
 * 503 otherwise. "Takes writes" is what libpq's target_session_attrs=read-write asks (`SHOW transaction_read_only`),
 * the way pg_auto_failover's own documentation has clients find the primary; it is asked from the clients' side, so a
 * member cut from the clients is down for haproxy as it is for them.
 */
export class RoleCheck {
  private constructor(private readonly servers: Map<string, Server>) {}

  static async start(opts: {
    bind: string;
    nodes: readonly string[];
    endpoint: (node: string) => Endpoint;
    credentials: { user: string; password: string; database: string };
  }): Promise<RoleCheck> {
    const servers = new Map<string, Server>();
    try {
      for (const node of opts.nodes) {
        const server = createServer((req, res) => {
          if (req.url !== "/primary") {
            res.writeHead(404).end();
            return;
          }
          takesWrites(opts.endpoint(node), opts.credentials).then(
            (rw) => res.writeHead(rw ? 200 : 503, { "content-type": "text/plain" }).end(rw ? "read-write\n" : "read-only\n"),
            (e: unknown) => res.writeHead(503, { "content-type": "text/plain" }).end(`${e instanceof Error ? e.message : String(e)}\n`),
          );
        });
        servers.set(node, server);
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(0, opts.bind, () => resolve());
        });
      }
    } catch (e) {
      await Promise.all([...servers.values()].map((s) => new Promise((r) => s.close(r))));
      throw e;
    }
    return new RoleCheck(servers);
  }

  /** Where haproxy checks each member. */
  haproxyCheck(): HaproxyCheck {
    return {
      port: 0,
      path: "/primary",
      at: (member) => {
        const s = this.servers.get(member);
        if (!s) throw new Error(`no role check for ${member}`);
        const a = s.address() as AddressInfo;
        return { host: a.address, port: a.port };
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.servers.values()].map(
        (s) =>
          new Promise((r) => {
            s.closeAllConnections();
            s.close(r);
          }),
      ),
    );
    this.servers.clear();
  }
}

/** Whether the PostgreSQL at `at` takes writes now (libpq's read-write test). Throws when it cannot be asked. */
export async function takesWrites(at: Endpoint, credentials: { user: string; password: string; database: string }, deadlineMs = CHECK_TIMEOUT_MS): Promise<boolean> {
  const client = new pg.Client({ host: at.host, port: at.port, ...credentials, connectionTimeoutMillis: deadlineMs, query_timeout: deadlineMs, application_name: "pgchaos-role-check" });
  client.on("error", () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${deadlineMs} ms`)), deadlineMs);
  });
  try {
    const ask = (async () => {
      await client.connect();
      const r = await client.query<{ transaction_read_only: string }>("SHOW transaction_read_only");
      return r.rows[0]?.transaction_read_only === "off";
    })();
    ask.catch(() => undefined);
    return await Promise.race([ask, deadline]);
  } finally {
    clearTimeout(timer);
    await client.end().catch(() => undefined);
  }
}
