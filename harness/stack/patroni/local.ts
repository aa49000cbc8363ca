import { chownSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { AbortError } from "p-retry";
import type { LocalDcs, LocalNode, LocalRun, LocalStackParts, NodeProcess } from "../local.ts";
import type { AgentApi } from "../types.ts";
import type { HaProfile } from "./profiles.ts";
import type { PatroniHaStack } from "./stack.ts";
import { BRING_UP, ETCD_CLIENT_PORT, ETCD_PEER_PORT, REST_PORT, etcdArgs, patroniConfig, reportedSettings } from "./config.ts";
import { stackSettings } from "./default.ts";
import { waitFor } from "../../util/wait.ts";
import { ARCHIVE_TIMEOUT_S, PGBACKREST, archiveParameters, restoreBootstrap } from "./backup.ts";
import { PatroniBackups } from "./local-backup.ts";

/** Patroni's REST API of a member, straight to its address. */
export function restApi(restOf: (node: string) => { host: string; port: number }): AgentApi {
  return async (node, req) => {
    if (req.method === "EXEC") throw new Error(`Patroni's REST API runs no commands: asked to run ${req.argv.join(" ")} on ${node}`);
    const at = restOf(node);
    const res = await fetch(`http://${at.host}:${at.port}${req.path}`, {
      method: req.method,
      headers: req.body === undefined ? undefined : { "content-type": "application/json" },
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: AbortSignal.timeout(req.timeoutMs ?? 1000),
    });
    return { status: res.status, body: await res.text() };
  };
}

/** The member whose etcd leads the cluster, asked of every member that answers (etcd's JSON gateway, v3 API). */
export async function etcdLeader(members: ReadonlyArray<{ name: string; address: string; port?: number }>): Promise<string | undefined> {
  for (const n of members) {
    const base = `http://${n.address}:${n.port ?? ETCD_CLIENT_PORT}`;
    try {
      const res = await fetch(`${base}/v3/maintenance/status`, { method: "POST", body: "{}", signal: AbortSignal.timeout(1000) });
      const st = (await res.json()) as { header?: { member_id?: string }; leader?: string };
      if (!st.leader || st.leader === "0") continue;
      if (st.leader === st.header?.member_id) return n.name;
      const list = await fetch(`${base}/v3/cluster/member/list`, { method: "POST", body: "{}", signal: AbortSignal.timeout(1000) });
      const ids = ((await list.json()) as { members?: Array<{ ID: string; name: string }> }).members ?? [];
      const m = ids.find((x) => x.ID === st.leader);
      if (m) return m.name;
    } catch {
      // This member does not answer; ask the next.
    }
  }
  return undefined;
}

/** etcd 3.4, one member per node, as Patroni's DCS. */
class LocalEtcd implements LocalDcs {
  readonly name = "etcd3";
  private readonly members = new Map<string, NodeProcess>();

  constructor(private readonly run: LocalRun) {}

  private node(name: string): LocalNode {
    const n = this.run.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node "${name}"`);
    return n;
  }

  private spawn(n: LocalNode): NodeProcess {
    this.run.assertNotTornDown(`etcd on ${n.name}`);
    const p = n.spawn(
      ["/usr/bin/etcd", ...etcdArgs({ name: n.name, address: n.address, dataDir: join(n.dir, "etcd"), cluster: this.run.nodes.map((m) => ({ name: m.name, address: m.address })), token: `pgchaos-${this.run.runId}` })],
      { logFile: join(n.logDir, "etcd.log") },
    );
    this.members.set(n.name, p);
    return p;
  }

  /**
   * One member after the other, each once it serves its peers. A new etcd 3.4 member first asks every peer URL
   * whether it was already bootstrapped (isMemberBootstrapped, 1 s timeout a peer); a peer started at the same
   * instant has its port open but serves nothing yet, so each ask hangs its full second: 2 s of every bring-up.
   * A peer that is not listening refuses at once, one that serves answers.
   */
  async startAll(): Promise<void> {
    for (const n of this.run.nodes) {
      const p = this.spawn(n);
      await waitFor({ condition: "etcd to serve its peers", where: `node ${n.name}`, timeoutMs: 10_000, intervalMs: 10, signal: this.run.signal }, async () => {
        if (!p.running()) throw new AbortError(`etcd on ${n.name} exited: see ${join(n.logDir, "etcd.log")}`);
        await fetch(`http://${n.address}:${ETCD_PEER_PORT}/version`, { signal: AbortSignal.timeout(200) });
        return true;
      });
    }
  }

  async waitQuorum(): Promise<void> {
    await waitFor(
      { condition: "etcd quorum (every member healthy)", where: `cluster pgchaos-${this.run.runId}`, timeoutMs: this.run.readyTimeoutMs, intervalMs: 50, signal: this.run.signal },
      async () => {
        for (const n of this.run.nodes) {
          if (!this.members.get(n.name)?.running()) throw new Error(`etcd on ${n.name} exited: see ${join(n.logDir, "etcd.log")}`);
          const res = await fetch(`http://${n.address}:${ETCD_CLIENT_PORT}/health`, { signal: AbortSignal.timeout(500) });
          const body = (await res.json()) as { health?: string };
          if (body.health !== "true") throw new Error(`etcd on ${n.name} reports health=${body.health}`);
        }
        return true;
      },
    );
  }

  hosts(): string[] {
    return this.run.nodes.map((n) => n.name);
  }

  /** The node whose etcd member leads the DCS, asked of every member that answers. */
  async leader(): Promise<string | undefined> {
    return etcdLeader(this.run.nodes);
  }

  async kill(node: string): Promise<void> {
    const p = this.members.get(node);
    if (!p?.running()) return;
    signal(p.pid, "SIGKILL");
    await Promise.race([p.exited, new Promise((r) => setTimeout(r, 5000))]);
  }

  async start(node: string): Promise<void> {
    if (this.members.get(node)?.running()) return;
    this.spawn(this.node(node));
  }

  async pause(node: string): Promise<void> {
    const p = this.members.get(node);
    if (p?.running()) signal(p.pid, "SIGSTOP");
  }

  async resume(node: string): Promise<void> {
    const p = this.members.get(node);
    if (p?.running()) signal(p.pid, "SIGCONT");
  }

  processes(): NodeProcess[] {
    return [...this.members.values()];
  }

  /**
   * Deletes every key under `prefix` (etcd's v3 JSON gateway, on the first member that answers): with Patroni's
   * `/service/<scope>/`, what `patronictl remove` deletes, so that members with no data bootstrap the cluster anew.
   */
  async deletePrefix(prefix: string): Promise<number> {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    const errors: string[] = [];
    for (const n of this.run.nodes) {
      try {
        const res = await fetch(`http://${n.address}:${ETCD_CLIENT_PORT}/v3/kv/deleterange`, { method: "POST", body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }), signal: AbortSignal.timeout(2000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
        return Number(((await res.json()) as { deleted?: string }).deleted ?? 0);
      } catch (e) {
        errors.push(`${n.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    throw new Error(`could not delete ${prefix} from etcd: ${errors.join("; ")}`);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Patroni + etcd on the local platform: each node's patroni.yml, its etcd member, the profile after bring-up. */
export class PatroniLocalParts implements LocalStackParts {
  readonly settings: Record<string, unknown>;
  readonly dcs: LocalEtcd;
  readonly nodeFolders = [
    { name: "run", mode: 0o755, owner: "agent" as const, ephemeral: true },
    { name: "etcd", mode: 0o700, owner: "root" as const },
  ];
  readonly programs: ReadonlyArray<{ path: string; what: string }>;
  readonly primaryCheck = { port: REST_PORT, path: "/primary" };
  readonly api: AgentApi;
  readonly backups?: PatroniBackups;
  private readonly effective: HaProfile;

  constructor(
    private readonly stack: PatroniHaStack,
    private readonly profile: HaProfile,
    private readonly run: LocalRun,
  ) {
    const eff = stack.effectiveProfile(profile);
    this.effective = eff.profile;
    this.dcs = new LocalEtcd(run);
    this.api = restApi((node) => ({ host: this.node(node).address, port: REST_PORT }));
    this.settings = { ...reportedSettings(eff.profile, run.nodes.length, this.dcs.name), ...stackSettings(stack, eff) };
    this.programs = [
      { path: stack.installed.bin, what: `Patroni (${stack.info.name})` },
      { path: `${run.pgBinDir}/initdb`, what: "PostgreSQL's initdb" },
    ];
    if (run.archive) {
      const backups = new PatroniBackups(run, { forget: async () => void (await this.dcs.deletePrefix(`/service/${this.scope}/`)), rewrite: (owner) => run.nodes.forEach((n) => this.writeNodeFiles(n, owner)) }, ARCHIVE_TIMEOUT_S);
      this.backups = backups;
      this.settings = { ...this.settings, backups: backups.settings };
      this.programs = [...this.programs, { path: PGBACKREST, what: "pgBackRest (npm run setup installs Debian 12's pgbackrest)" }];
    }
  }

  private get scope(): string {
    return `pgchaos-${this.run.runId}`;
  }

  private node(name: string): LocalNode {
    const n = this.run.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node "${name}"`);
    return n;
  }

  private config(n: LocalNode, passwords: LocalRun["passwords"]) {
    const restoring = this.backups?.restoreBootstrap ?? false;
    return patroniConfig({
      scope: this.scope,
      name: n.name,
      address: n.address,
      etcdHosts: this.run.nodes.map((m) => m.address),
      subnetCidr: this.run.subnetCidr,
      dataDir: n.dataDir,
      socketDir: join(n.dir, "run"),
      logDir: n.logDir,
      pgpass: join(n.dir, "pgpass"),
      binDir: this.run.pgBinDir,
      profile: this.effective,
      // A restored cluster starts with the profile's own values: nothing puts them in place after a restore.
      bringUp: restoring ? undefined : { dcs: this.stack.bringUpTimings(), parameters: BRING_UP.parameters },
      passwords,
      archive: this.backups ? archiveParameters(this.backups.nodeConf(n)) : undefined,
      bootstrapMethod: restoring ? restoreBootstrap(this.backups!.nodeConf(n)) : undefined,
    });
  }

  writeNodeFiles(n: LocalNode, owner: { uid: number; gid: number }): void {
    const path = join(n.dir, "patroni.yml");
    writeFileSync(path, toYaml(this.config(n, this.run.passwords)), { mode: 0o600 });
    chownSync(path, owner.uid, owner.gid);
  }

  agent(n: LocalNode): { argv: string[]; logFile: string; env: Record<string, string> } {
    return { argv: [this.stack.installed.bin, join(n.dir, "patroni.yml")], logFile: join(n.logDir, "patroni.log"), env: { HOME: n.dir, PYTHONUNBUFFERED: "1" } };
  }

  async agentAnswers(node: string): Promise<boolean> {
    return this.api(node, { method: "GET", path: "/liveness", timeoutMs: 1000 }).then(
      () => true,
      () => false,
    );
  }

  /** Puts the profile in place once bring-up has a leader, and checks every member runs with it (stack.ts). */
  async afterBringUp(leader: string): Promise<void> {
    const members = this.run.nodes.map((n) => ({ name: n.name, endpoint: this.run.endpoint(n.name) }));
    const restore = await this.stack.applyProfile(this.api, leader, this.profile, members, this.run.credentials, { timeoutMs: 15_000, intervalMs: 25, signal: this.run.signal });
    this.run.log.info(restore, "profile settings in effect");
  }

  redactedFiles(n: LocalNode): Record<string, string> {
    // The report must not carry the generated passwords.
    return { "patroni.yml": toYaml(this.config(n, { superuser: "<redacted>", replication: "<redacted>", rewind: "<redacted>" })) };
  }
}
