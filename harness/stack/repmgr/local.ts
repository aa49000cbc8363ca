import { appendFileSync, chownSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LocalNode, LocalRun, LocalStackParts } from "../local.ts";
import type { AgentApi } from "../types.ts";
import type { HaProfile } from "../patroni/profiles.ts";
import type { RepmgrHaStack } from "./stack.ts";
import { nodeId, REPMGR_BIN } from "./stack.ts";
import { pgHba, postgresqlSettings, repmgrConf, repmgrTimings, type RepmgrTimings } from "./settings.ts";
import { waitFor } from "../../util/wait.ts";
import { cliAgentApi, commandFailed, psqlScript, sqlString } from "../commands.ts";

const PG_PORT = 5432;

/**
 * A repmgr member's pod: PostgreSQL started as its service would be at boot (whatever it was: an old primary comes
 * back a primary), then repmgrd once the node is registered, started again whenever it exits (as systemd's Restart=
 * would). SIGTERM (a graceful stop) stops repmgrd, then PostgreSQL with a fast shutdown. The pod runs it once per pod:
 * a PostgreSQL killed alone is started again by nothing but repmgr's own commands, as on a host.
 */
export function podScript(o: { binDir: string; conf: string; dataDir: string; pgLog: string }): string {
  return `#!/bin/sh
# pgchaos: a repmgr member's pod (harness/stack/repmgr/local.ts)
bin='${o.binDir}' conf='${o.conf}' data='${o.dataDir}' log='${o.pgLog}'
child=
stop() {
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
  "$bin/pg_ctl" -w -t 60 -D "$data" -m fast stop >/dev/null 2>&1
  exit 0
}
trap stop TERM INT
# A new pod is a boot: the platform removed the postmaster.pid a killed pod left (its PID is reused at once here).
if [ -f "$data/PG_VERSION" ]; then
  "$bin/pg_ctl" -w -t 60 -D "$data" -l "$log" start
fi
while :; do
  if "$bin/repmgr" -f "$conf" node status >/dev/null 2>&1; then
    "$bin/repmgrd" -f "$conf" --daemonize=false &
    child=$!
    wait "$child"
    child=
  fi
  sleep 1 &
  wait $!
done
`;
}



/**
 * repmgr on the local platform: the first node is initialised and registered as the primary, the others cloned from it
 * (`repmgr standby clone`) and registered as standbys; repmgrd runs in every member's pod.
 */
export class RepmgrLocalParts implements LocalStackParts {
  readonly settings: Record<string, unknown>;
  readonly nodeFolders = [{ name: "run", mode: 0o700, owner: "agent" as const, ephemeral: true }];
  readonly programs: ReadonlyArray<{ path: string; what: string }>;
  readonly primaryCheck = "read-write" as const;
  readonly api: AgentApi;
  private readonly timings: RepmgrTimings;

  constructor(
    stack: RepmgrHaStack,
    profile: HaProfile,
    private readonly run: LocalRun,
  ) {
    this.timings = repmgrTimings(profile);
    this.api = cliAgentApi("repmgr", (node, argv) => {
      const n = this.node(node);
      // repmgr's commands get the node's configuration file.
      return { node: n, argv: argv[0] === REPMGR_BIN ? [...argv, "-f", this.conf(n)] : argv, env: this.env(n) };
    });
    this.settings = {
      stack: stack.info.name,
      ha: "repmgrd on every member, no consensus, no fencing",
      nodes: run.nodes.length,
      repmgr: { ...this.timings, failover: "automatic", primary_visibility_consensus: true, use_replication_slots: true },
      replication: "asynchronous",
      rejoin: "manual: an old primary comes back as a primary (repmgr node rejoin --force-rewind is a person's job)",
      primaryService: "haproxy, checking each member's PostgreSQL for read-write (libpq's target_session_attrs=read-write) from the clients' side",
    };
    this.programs = [
      { path: REPMGR_BIN, what: "repmgr (npm run setup installs postgresql-15-repmgr)" },
      { path: `${run.pgBinDir}/repmgrd`, what: "repmgrd" },
    ];
  }

  private node(name: string): LocalNode {
    const n = this.run.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node "${name}"`);
    return n;
  }

  /** Where the node's own PostgreSQL is for psql: its socket, as its own user (peer). */
  private env(n: LocalNode): Record<string, string> {
    return { PGHOST: join(n.dir, "run"), PGPORT: String(PG_PORT) };
  }

  private conf(n: LocalNode): string {
    return join(n.dir, "repmgr.conf");
  }

  private pgLog(n: LocalNode): string {
    return join(n.logDir, "postgresql.log");
  }

  writeNodeFiles(n: LocalNode, owner: { uid: number; gid: number }): void {
    const files: Record<string, { text: string; mode: number }> = {
      "repmgr.conf": {
        text: repmgrConf({ nodeId: nodeId(n.name), name: n.name, address: n.address, port: PG_PORT, dataDir: n.dataDir, binDir: this.run.pgBinDir, confFile: this.conf(n), pidFile: join(n.dir, "run", "repmgrd.pid"), pgLog: this.pgLog(n), timings: this.timings }),
        mode: 0o600,
      },
      ".pgpass": { text: `*:*:*:repmgr:${this.run.passwords.replication}\n`, mode: 0o600 },
      "pod.sh": { text: podScript({ binDir: this.run.pgBinDir, conf: this.conf(n), dataDir: n.dataDir, pgLog: this.pgLog(n) }), mode: 0o755 },
    };
    for (const [name, f] of Object.entries(files)) {
      const path = join(n.dir, name);
      writeFileSync(path, f.text, { mode: f.mode });
      chownSync(path, owner.uid, owner.gid);
    }
  }

  agent(n: LocalNode): { argv: string[]; logFile: string; env: Record<string, string> } {
    // "sh FILE", not "/bin/sh": the pod tells its agent from its init (a /bin/sh) by this command line.
    return { argv: ["sh", join(n.dir, "pod.sh")], logFile: join(n.logDir, "repmgrd.log"), env: { HOME: n.dir } };
  }

  /**
   * Whether the node's pod has its PostgreSQL up: the pod starts it first, and repmgrd only once the node is registered
   * (which the bring-up does after this), so PostgreSQL is what tells a pod that started.
   */
  async agentAnswers(node: string): Promise<boolean> {
    const n = this.node(node);
    const r = await n.exec(["pg_isready", "-q", "-h", join(n.dir, "run"), "-p", String(PG_PORT)], { timeoutMs: 5000 });
    return r.code === 0;
  }

  private async exec(n: LocalNode, argv: string[], what: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    this.run.assertNotTornDown(what);
    const r = await n.exec(argv, { timeoutMs: opts.timeoutMs ?? this.run.readyTimeoutMs, input: opts.input });
    if (r.code !== 0) commandFailed(what, r);
    return r.stdout;
  }

  private waitPostgres(n: LocalNode): Promise<boolean> {
    return waitFor({ condition: "PostgreSQL to accept connections", where: `node ${n.name}`, timeoutMs: this.run.readyTimeoutMs, intervalMs: 100, signal: this.run.signal }, async () => {
      const r = await n.exec(["pg_isready", "-h", join(n.dir, "run"), "-p", String(PG_PORT)], { timeoutMs: 5000 });
      if (r.code !== 0) throw new Error(`pg_isready: ${r.stdout.trim()}`);
      return true;
    });
  }

  async bringUp(start: (node: string) => Promise<void>): Promise<void> {
    const [first, ...rest] = this.run.nodes;
    if (!first) throw new Error("no nodes");
    const bin = this.run.pgBinDir;
    await this.exec(first, [`${bin}/initdb`, "-D", first.dataDir, "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"], `initdb on ${first.name}`);
    appendFileSync(join(first.dataDir, "postgresql.conf"), postgresqlSettings({ socketDir: join(first.dir, "run"), port: PG_PORT }));
    writeFileSync(join(first.dataDir, "pg_hba.conf"), pgHba(this.run.subnetCidr));
    await start(first.name);
    await this.waitPostgres(first);
    const sql = [
      "SET log_statement = 'none';",
      `CREATE ROLE repmgr SUPERUSER LOGIN PASSWORD ${sqlString(this.run.passwords.replication)};`,
      "CREATE DATABASE repmgr OWNER repmgr;",
      `ALTER ROLE postgres PASSWORD ${sqlString(this.run.passwords.superuser)};`,
    ].join("\n");
    await this.exec(first, psqlScript("-h", join(first.dir, "run"), "-d", "postgres"), "creating repmgr's role and database", { input: sql });
    await this.exec(first, [REPMGR_BIN, "-f", this.conf(first), "primary", "register"], `repmgr primary register on ${first.name}`);
    await Promise.all(
      rest.map(async (n) => {
        await this.exec(n, [REPMGR_BIN, "-f", this.conf(n), "-h", first.address, "-p", String(PG_PORT), "-U", "repmgr", "-d", "repmgr", "standby", "clone", "--fast-checkpoint"], `repmgr standby clone on ${n.name}`);
        // The clone carries the first node's socket folder; each node keeps its own.
        appendFileSync(join(n.dataDir, "postgresql.conf"), `unix_socket_directories = '${join(n.dir, "run")}'\n`);
        await start(n.name);
        await this.waitPostgres(n);
        await this.exec(n, [REPMGR_BIN, "-f", this.conf(n), "standby", "register", "--wait-start=30"], `repmgr standby register on ${n.name}`);
      }),
    );
  }

  /** Every member's repmgrd runs (the pod starts it once the node is registered). */
  async afterBringUp(): Promise<void> {
    for (const n of this.run.nodes) {
      await waitFor({ condition: "repmgrd to run", where: `node ${n.name}`, timeoutMs: 20_000, intervalMs: 200, signal: this.run.signal }, async () => {
        const r = await n.exec([REPMGR_BIN, "-f", this.conf(n), "service", "status", "--csv"], { timeoutMs: 10_000 });
        const line = r.stdout.split("\n").find((l) => l.startsWith(`${nodeId(n.name)},`));
        // node_id,name,role,PostgreSQL running (1),repmgrd running (1),repmgrd pid,paused (1),...
        if (!line || line.split(",")[4] !== "1") throw new Error(`repmgr service status: ${JSON.stringify(line ?? r.stdout.trim())}`);
        return true;
      });
    }
  }

  redactedFiles(n: LocalNode): Record<string, string> {
    const conf = this.conf(n);
    return existsSync(conf) ? { "repmgr.conf": readFileSync(conf, "utf8") } : {};
  }
}
