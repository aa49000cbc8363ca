import { chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import type { LocalDcs, LocalNode, LocalRun, LocalStackParts, NodeProcess } from "../local.ts";
import type { AgentApi } from "../types.ts";
import type { HaProfile } from "../patroni/profiles.ts";
import type { PgAutoFailoverHaStack } from "./stack.ts";
import { PG_AUTOCTL } from "./stack.ts";
import { monitorSettingsSql, pgafTimings, type PgafTimings } from "./settings.ts";
import { waitFor } from "../../util/wait.ts";
import { cliAgentApi, commandFailed, psqlScript, sqlString } from "../commands.ts";

const PG_PORT = 5432;
const MONITOR = "monitor";
const MONITOR_DB = "pg_auto_failover";

/** The environment every pg_autoctl of a node runs with: its data, its sockets and its pid file in the node's own folders. */
export function pgafEnv(n: Pick<LocalNode, "dir" | "dataDir">): Record<string, string> {
  const run = join(n.dir, "run");
  return {
    HOME: n.dir,
    PGDATA: n.dataDir,
    PGPORT: String(PG_PORT),
    // pg_auto_failover's own tests run one node per network namespace too: this puts each node's sockets in its folder
    // (unix_socket_directories) instead of the shared /var/run/postgresql.
    PG_REGRESS_SOCK_DIR: run,
    PGHOST: run,
    // pg_autoctl's pid file: in the pod's folder that is emptied at each start, so a pid a killed pod left is never
    // taken for a live one in the next pod's PID namespace.
    XDG_RUNTIME_DIR: run,
  };
}



/** The monitor: a PostgreSQL with the pgautofailover extension and its `pg_autoctl run`, on a host of its own. */
class PgafMonitor implements LocalDcs {
  readonly name = "pg_auto_failover monitor";
  private proc?: NodeProcess;

  constructor(
    private readonly run: LocalRun,
    private readonly host: () => LocalNode,
    private readonly password: string,
    private readonly timings: PgafTimings,
  ) {}

  async startAll(): Promise<void> {
    const h = this.host();
    const r = await h.exec(
      [PG_AUTOCTL, "create", "monitor", "--pgdata", h.dataDir, "--pgport", String(PG_PORT), "--pgctl", `${this.run.pgBinDir}/pg_ctl`, "--hostname", h.address, "--auth", "scram-sha-256", "--no-ssl"],
      { env: pgafEnv(h), timeoutMs: this.run.readyTimeoutMs },
    );
    if (r.code !== 0) commandFailed("pg_autoctl create monitor", r);
    this.spawn();
    // The keepers' password, and the failover timings of the profile from the first health check on.
    await waitFor({ condition: "the monitor's PostgreSQL to accept its settings", where: `host ${h.name}`, timeoutMs: this.run.readyTimeoutMs, intervalMs: 100, signal: this.run.signal }, async () => {
      if (!this.proc?.running()) throw new Error(`pg_autoctl run on ${h.name} exited: see ${join(h.logDir, "pg_autoctl.log")}`);
      // The monitor logs DDL (log_statement = 'ddl'): this session must not log the password it sets.
      const sql = `SET log_statement = 'none';\nALTER ROLE autoctl_node PASSWORD ${sqlString(this.password)};\n${monitorSettingsSql(this.timings)}`;
      const x = await h.exec(psqlScript("-d", MONITOR_DB), { env: pgafEnv(h), input: sql, timeoutMs: 10_000 });
      if (x.code !== 0) throw new Error(`psql: ${x.stderr.trim()}`);
      return true;
    });
  }

  private spawn(): void {
    const h = this.host();
    this.run.assertNotTornDown(`the monitor on ${h.name}`);
    this.proc = h.spawn([PG_AUTOCTL, "run"], { logFile: join(h.logDir, "pg_autoctl.log"), user: "postgres", env: pgafEnv(h) });
  }

  async waitQuorum(): Promise<void> {}

  hosts(): string[] {
    return [this.host().name];
  }

  /** The monitor's host while its PostgreSQL accepts the keepers' role. */
  async leader(): Promise<string | undefined> {
    const h = this.host();
    const c = new pg.Client({ host: h.address, port: PG_PORT, user: "autoctl_node", password: this.password, database: MONITOR_DB, connectionTimeoutMillis: 1000, query_timeout: 1000 });
    c.on("error", () => undefined);
    try {
      await c.connect();
      await c.query("SELECT 1");
      return h.name;
    } catch {
      return undefined;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  private signal(sig: NodeJS.Signals): void {
    if (!this.proc?.running()) return;
    try {
      // Its process group: pg_autoctl run, its services and the PostgreSQL they started.
      process.kill(-this.proc.pid, sig);
    } catch {
      // Already gone.
    }
  }

  async kill(node: string): Promise<void> {
    if (!this.isMonitor(node)) return;
    const p = this.proc;
    this.signal("SIGKILL");
    if (p) await Promise.race([p.exited, new Promise((r) => setTimeout(r, 5000))]);
  }

  async start(node: string): Promise<void> {
    if (!this.isMonitor(node)) return;
    if (!this.proc?.running()) this.spawn();
  }

  async pause(node: string): Promise<void> {
    if (this.isMonitor(node)) this.signal("SIGSTOP");
  }

  async resume(node: string): Promise<void> {
    if (this.isMonitor(node)) this.signal("SIGCONT");
  }

  /** Only the monitor's host runs a part of it: a member's machine failing or booting leaves the monitor alone. */
  private isMonitor(node: string): boolean {
    return node === this.host().name;
  }

  processes(): NodeProcess[] {
    return this.proc ? [this.proc] : [];
  }
}

/**
 * pg_auto_failover on the local platform: a monitor on a host of its own, a keeper (`pg_autoctl run`) in each member's
 * pod. Nodes are created one at a time in the order pg_auto_failover needs: the first becomes the primary, and the
 * standbys clone it once it has their password.
 */
export class PgafLocalParts implements LocalStackParts {
  readonly settings: Record<string, unknown>;
  readonly serviceHosts = [MONITOR];
  readonly dcs: PgafMonitor;
  readonly nodeFolders = [{ name: "run", mode: 0o755, owner: "agent" as const, ephemeral: true }];
  readonly programs: ReadonlyArray<{ path: string; what: string }>;
  readonly primaryCheck = "read-write" as const;
  readonly api: AgentApi;
  private readonly timings: PgafTimings;
  /** The keepers' password on the monitor (autoctl_node). */
  private readonly monitorPassword: string;

  constructor(
    stack: PgAutoFailoverHaStack,
    profile: HaProfile,
    private readonly run: LocalRun,
  ) {
    this.timings = pgafTimings(profile);
    // The run's rewind password is not used by pg_auto_failover (it rewinds as its replication user): it serves here.
    this.monitorPassword = run.passwords.rewind;
    this.dcs = new PgafMonitor(run, () => this.monitorHost(), this.monitorPassword, this.timings);
    this.api = cliAgentApi("pg_auto_failover", (node, argv) => {
      const n = this.node(node);
      return { node: n, argv, env: pgafEnv(n) };
    });
    this.settings = {
      stack: stack.info.name,
      ha: "pg_auto_failover monitor",
      nodes: run.nodes.length,
      monitor: { ...this.timings.monitor },
      keeper: { ...this.timings.keeper },
      primaryService: "haproxy, checking each member's PostgreSQL for read-write (libpq's target_session_attrs=read-write) from the clients' side",
      auth: "scram-sha-256, no TLS (--no-ssl) on the run's own network",
    };
    this.programs = [{ path: PG_AUTOCTL, what: "pg_auto_failover's pg_autoctl (npm run setup installs it)" }];
  }

  private monitorHost(): LocalNode {
    const h = this.run.services.find((s) => s.name === MONITOR);
    if (!h) throw new Error("the platform gave pg_auto_failover no monitor host");
    return h;
  }

  private node(name: string): LocalNode {
    const n = this.run.nodes.find((x) => x.name === name) ?? this.run.services.find((x) => x.name === name);
    if (!n) throw new Error(`no node "${name}"`);
    return n;
  }

  private monitorUri(): string {
    // The password is in the node's .pgpass, not in the URI (which pg_autoctl keeps in its configuration and shows).
    return `postgres://autoctl_node@${this.monitorHost().address}:${PG_PORT}/${MONITOR_DB}?sslmode=disable`;
  }

  writeNodeFiles(n: LocalNode, owner: { uid: number; gid: number }): void {
    const m = this.monitorHost();
    const lines = [
      `${m.address}:${PG_PORT}:${MONITOR_DB}:autoctl_node:${this.monitorPassword}`,
      `*:*:*:pgautofailover_replicator:${this.run.passwords.replication}`,
      `*:*:*:postgres:${this.run.passwords.superuser}`,
    ];
    const path = join(n.dir, ".pgpass");
    writeFileSync(path, `${lines.join("\n")}\n`, { mode: 0o600 });
    chownSync(path, owner.uid, owner.gid);
  }

  agent(n: LocalNode): { argv: string[]; logFile: string; env: Record<string, string> } {
    // As "pg_autoctl run", which is also the title it keeps: the pod finds its agent by this command line.
    return { argv: ["pg_autoctl", "run"], logFile: join(n.logDir, "pg_autoctl.log"), env: pgafEnv(n) };
  }

  async agentAnswers(node: string): Promise<boolean> {
    const n = this.node(node);
    const r = await n.exec([PG_AUTOCTL, "status"], { env: pgafEnv(n), timeoutMs: 5000 });
    return r.code === 0;
  }

  /** Registers a node with the monitor (`pg_autoctl create postgres`): the first one initialises, the others clone it. */
  private async create(n: LocalNode): Promise<void> {
    const marker = join(n.dir, "created");
    if (existsSync(marker)) return;
    this.run.assertNotTornDown(`creating ${n.name}`);
    const r = await n.exec(
      [
        PG_AUTOCTL, "create", "postgres",
        "--pgdata", n.dataDir, "--pgport", String(PG_PORT), "--pgctl", `${this.run.pgBinDir}/pg_ctl`,
        // --hostname always: without it pg_autoctl finds its own address by connecting towards a public one.
        "--hostname", n.address, "--name", n.name, "--monitor", this.monitorUri(),
        "--auth", "scram-sha-256", "--pg-hba-lan", "--no-ssl",
      ],
      { env: pgafEnv(n), timeoutMs: this.run.readyTimeoutMs },
    );
    if (r.code !== 0) commandFailed(`pg_autoctl create postgres on ${n.name}`, r);
    const t = await n.exec([PG_AUTOCTL, "config", "set", "timeout.network_partition_timeout", String(this.timings.keeper.network_partition_timeout)], { env: pgafEnv(n) });
    if (t.code !== 0) commandFailed(`pg_autoctl config set on ${n.name}`, t);
    writeFileSync(marker, "");
  }

  async bringUp(start: (node: string) => Promise<void>): Promise<void> {
    const [first, ...rest] = this.run.nodes;
    if (!first) throw new Error("no nodes");
    await this.create(first);
    await start(first.name);
    // The primary takes the run's passwords before any standby clones it: the replication user's, and the clients'.
    const sql = `SET log_statement = 'none';\nALTER ROLE pgautofailover_replicator PASSWORD ${sqlString(this.run.passwords.replication)};\nALTER ROLE postgres PASSWORD ${sqlString(this.run.passwords.superuser)};\n`;
    await waitFor({ condition: "the first node to run as a single primary", where: `node ${first.name}`, timeoutMs: this.run.readyTimeoutMs, intervalMs: 100, signal: this.run.signal }, async () => {
      const x = await first.exec(psqlScript("-d", "postgres"), { env: pgafEnv(first), input: sql, timeoutMs: 10_000 });
      if (x.code !== 0) throw new Error(`psql: ${x.stderr.trim()}`);
      return true;
    });
    await Promise.all(
      rest.map(async (n) => {
        await this.create(n);
        await start(n.name);
      }),
    );
  }

  /** Checks the monitor runs with the profile's timings, and records the synchronous setting pg_auto_failover chose. */
  async afterBringUp(): Promise<void> {
    const m = this.monitorHost();
    const names = Object.keys(this.timings.monitor);
    const q = `SELECT name, setting FROM pg_settings WHERE name IN (${names.map((k) => sqlString(`pgautofailover.${k}`)).join(", ")})`;
    const r = await m.exec(["psql", "-X", "-At", "-F", "=", "-d", MONITOR_DB, "-c", q], { env: pgafEnv(m) });
    if (r.code !== 0) commandFailed("reading the monitor's settings", r);
    const got = Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split("=")).map(([k, v]) => [k!.replace("pgautofailover.", ""), Number(v)]));
    const wrong = Object.entries(this.timings.monitor).filter(([k, v]) => got[k] !== v);
    if (wrong.length > 0) throw new Error(`the monitor does not run with the profile's timings: ${wrong.map(([k, v]) => `${k} is ${got[k]}, not ${v}`).join(", ")}`);
    const shown = await this.api(this.run.nodes[0]!.name, { method: "EXEC", argv: [PG_AUTOCTL, "show", "settings", "--json"], timeoutMs: 5000 });
    if (shown.status !== 0) throw new Error(`pg_autoctl show settings exited ${shown.status}: ${shown.body.trim()}`);
    this.settings.synchronous = synchronousSettings(JSON.parse(shown.body));
    this.run.log.info({ monitor: got }, "pg_auto_failover timings in effect");
  }

  redactedFiles(n: LocalNode): Record<string, string> {
    const files: Record<string, string> = {};
    const cfg = join(n.dir, ".config", "pg_autoctl", n.dataDir, "pg_autoctl.cfg");
    if (existsSync(cfg)) files["pg_autoctl.cfg"] = readFileSync(cfg, "utf8").replace(/^(\s*password\s*=).*$/gm, "$1 <redacted>");
    // PostgreSQL's own log: pg_auto_failover turns its logging collector on, into the data directory.
    const logDir = join(n.dataDir, "log");
    // Passwords are set with statement logging off; any statement that still names one is redacted here too.
    for (const f of existsSync(logDir) ? readdirSync(logDir) : []) files[`postgresql-${f}`] = redactPasswords(readFileSync(join(logDir, f), "utf8"));
    return files;
  }
}

/**
 * The synchronous replication pg_auto_failover chose, from `pg_autoctl show settings --json`: the formation's
 * number_sync_standbys and the primary's synchronous_standby_names, wherever in the document they sit.
 */
export function synchronousSettings(doc: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (v === null || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    if (typeof o.setting === "string" && (o.setting === "number_sync_standbys" || o.setting === "synchronous_standby_names")) out[o.setting] = String(o.value);
    Object.values(o).forEach(visit);
  };
  visit(doc);
  if (out.number_sync_standbys === undefined) throw new Error(`pg_autoctl show settings names no number_sync_standbys: ${JSON.stringify(doc).slice(0, 300)}`);
  return out;
}

/** A log with every `PASSWORD '...'` of a statement replaced. */
export function redactPasswords(text: string): string {
  return text.replace(/(PASSWORD\s+)'(?:[^']|'')*'/gi, "$1'<redacted>'");
}
