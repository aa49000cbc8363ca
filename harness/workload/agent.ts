/**
 * A node probe agent: runs inside one node's network namespace, next to its database, as an application
 * pod on that node would, and asks the local node to take a write at a steady interval. Under a network
 * partition it still reaches its own node, so each side of a split reports what it accepted.
 *
 * Configuration comes from the environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and
 * PGCHAOS_NODE, PGCHAOS_INTERVAL_MS, PGCHAOS_CONNECT_TIMEOUT_MS, PGCHAOS_QUERY_TIMEOUT_MS); every
 * operation goes to stdout as one JSON line: {time, type, seq, state?, timeline?, error?}. SIGTERM stops it.
 */
import { classifyWriteError, describeError, isReadOnlyError } from "./outcome.ts";
import { INSERT_NODE_PROBE_SQL } from "./schema.ts";
import { Session, every } from "./session.ts";

export interface AgentLine {
  time: number;
  type: "invoke" | "ok" | "fail" | "info";
  seq: number;
  state?: "writable" | "read-only" | "unreachable";
  timeline?: number;
  error?: string;
}

function env(name: string): string {
  const v = process.env[name];
  if (!v) {
    process.stderr.write(`agent: ${name} is not set\n`);
    process.exit(2);
  }
  return v;
}

const node = env("PGCHAOS_NODE");
const session = new Session({
  endpoint: { host: env("PGHOST"), port: Number(env("PGPORT")) },
  credentials: { user: env("PGUSER"), password: env("PGPASSWORD"), database: env("PGDATABASE"), options: process.env.PGOPTIONS || undefined, ssl: process.env.PGSSLMODE === "no-verify" ? { rejectUnauthorized: false } : undefined },
  connectTimeoutMs: Number(env("PGCHAOS_CONNECT_TIMEOUT_MS")),
  queryTimeoutMs: Number(env("PGCHAOS_QUERY_TIMEOUT_MS")),
  applicationName: `pgchaos-agent-${node}`,
});
const now = () => Number((performance.timeOrigin + performance.now()).toFixed(3));
const emit = (l: Omit<AgentLine, "time">) => process.stdout.write(JSON.stringify({ time: now(), ...l }) + "\n");

const abort = new AbortController();
process.on("SIGTERM", () => abort.abort());
process.on("SIGINT", () => undefined); // the harness decides when probes stop, not the terminal

let seq = 0;
await every(Number(env("PGCHAOS_INTERVAL_MS")), abort.signal, async () => {
  const s = ++seq;
  emit({ type: "invoke", seq: s });
  try {
    await session.connect();
  } catch (e) {
    return void emit({ type: "fail", seq: s, state: "unreachable", error: `connect: ${describeError(e)}` });
  }
  try {
    const r = await session.query<{ timeline: number }>(INSERT_NODE_PROBE_SQL, [node, s]);
    emit({ type: "ok", seq: s, state: "writable", timeline: r.rows[0]!.timeline });
  } catch (e) {
    if (isReadOnlyError(e)) return void emit({ type: "fail", seq: s, state: "read-only", error: describeError(e) });
    emit({ type: classifyWriteError(e, true), seq: s, state: "unreachable", error: describeError(e) });
  }
});
session.drop();
