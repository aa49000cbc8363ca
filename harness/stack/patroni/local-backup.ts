import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LocalBackups, LocalNode, LocalRun } from "../local.ts";
import type { BackupTaken } from "../../platform/types.ts";
import { commandFailed } from "../commands.ts";
import { PGBACKREST, STANZA, parseInfo, pgbackrestConf, targetTime, type RepoPaths } from "./backup.ts";
import { PG_PORT } from "./config.ts";
import { sleep, waitFor } from "../../util/wait.ts";

type Owner = { uid: number; gid: number };

/**
 * pgBackRest beside Patroni on the local platform. The repository is a folder of the run that every member's
 * namespace sees (one filesystem), as a shared mount would be; each member has its own configuration naming its
 * data directory and socket, and the repository host's (this machine) names the scratch instance a point-in-time
 * restore goes to.
 */
export class PatroniBackups implements LocalBackups {
  readonly settings: Record<string, unknown>;
  private readonly root: string;
  private readonly paths: RepoPaths;
  private readonly scratch: { dir: string; data: string; socket: string; log: string };
  private restoring = false;

  constructor(
    private readonly run: LocalRun,
    private readonly hooks: { forget(): Promise<void>; rewrite(owner: Owner): void },
    archiveTimeoutS: number,
  ) {
    this.root = join(run.workDir, "pgbackrest");
    this.paths = { repo: join(this.root, "repo"), lock: join(this.root, "lock") };
    const dir = join(run.workDir, "pitr");
    this.scratch = { dir, data: join(dir, "data"), socket: join(dir, "run"), log: join(dir, "log") };
    this.settings = {
      tool: "pgBackRest 2.45 (Debian 12)",
      repository: "a folder of the run on this machine, shared by every member (posix repo)",
      stanza: STANZA,
      archive: `archive_mode=on, archive_command=pgbackrest archive-push on every member, archive_timeout=${archiveTimeoutS}s`,
      compression: "lz4",
      restore: "Patroni's custom bootstrap (bootstrap.method: pgbackrest, --type=default: latest backup and the whole archive); replicas clone the restored leader with pg_basebackup",
      pointInTime: "into a scratch instance on a socket beside the cluster (--type=time --target-action=promote)",
    };
  }

  /** Whether members bootstrap from the repository instead of initdb (after a disaster). */
  get restoreBootstrap(): boolean {
    return this.restoring;
  }

  nodeConf(n: LocalNode): string {
    return join(n.dir, "pgbackrest.conf");
  }

  private get repoConf(): string {
    return join(this.root, "pgbackrest.conf");
  }

  /** Logs of the repository host and the scratch instance, for the report: folder name to path. */
  logDirs(): Record<string, string> {
    return { pitr: this.scratch.log };
  }

  dataDirs(): string[] {
    return [this.scratch.data];
  }

  prepare(owner: Owner): void {
    for (const d of [this.root, this.paths.repo, this.paths.lock, this.scratch.dir, this.scratch.log]) {
      mkdirSync(d, { recursive: true, mode: 0o750 });
      chownSync(d, owner.uid, owner.gid);
    }
    const write = (path: string, text: string) => {
      writeFileSync(path, text, { mode: 0o640 });
      chownSync(path, owner.uid, owner.gid);
    };
    write(this.repoConf, pgbackrestConf({ ...this.paths, logDir: this.scratch.log, spoolDir: this.paths.lock, dataDir: this.scratch.data, socketDir: this.scratch.socket, port: PG_PORT }));
    for (const n of this.run.nodes) {
      write(this.nodeConf(n), pgbackrestConf({ ...this.paths, logDir: n.logDir, spoolDir: join(n.dir, "run"), dataDir: n.dataDir, socketDir: join(n.dir, "run"), port: PG_PORT }));
    }
  }

  private async pgbackrest(where: Pick<LocalNode, "exec">, conf: string, args: string[], what: string, timeoutMs: number) {
    const r = await where.exec([PGBACKREST, `--config=${conf}`, `--stanza=${STANZA}`, ...args], { timeoutMs });
    if (r.code !== 0) commandFailed(what, r);
    return r.stdout;
  }

  private async info() {
    return parseInfo(await this.pgbackrest(this.run.onHost, this.repoConf, ["--output=json", "info"], "pgbackrest info", 30_000));
  }

  async fullBackup(leader: LocalNode): Promise<BackupTaken> {
    const started = performance.now();
    // On the primary, as its postgres: stanza-create checks the cluster and makes the repository's stanza (once), the
    // backup waits until the WAL that makes it consistent is archived.
    await this.pgbackrest(leader, this.nodeConf(leader), ["stanza-create"], `pgbackrest stanza-create on ${leader.name}`, 60_000);
    await this.pgbackrest(leader, this.nodeConf(leader), ["--type=full", "backup"], `pgbackrest backup on ${leader.name}`, 300_000);
    const ms = Math.round(performance.now() - started);
    const last = (await this.info()).backups.at(-1);
    if (!last) throw new Error(`pgbackrest backup on ${leader.name} ended without error, but the repository lists no backup`);
    return { label: last.label, startLsn: last.startLsn, stopLsn: last.stopLsn, sizeBytes: last.sizeBytes, repoBytes: last.repoBytes, ms };
  }

  async archiveEnd(): Promise<string | undefined> {
    return (await this.info()).archiveMax;
  }

  forget(): Promise<void> {
    return this.hooks.forget();
  }

  useRestoreBootstrap(owner: Owner): void {
    this.restoring = true;
    this.hooks.rewrite(owner);
  }

  async restoreToTime(target: Date): Promise<{ ids: number[]; ms: number; log: string }> {
    const started = performance.now();
    const s = this.scratch;
    rmSync(s.data, { recursive: true, force: true });
    rmSync(s.socket, { recursive: true, force: true });
    const owner = statSync(s.dir);
    for (const d of [s.data, s.socket]) {
      mkdirSync(d, { mode: 0o700 });
      chownSync(d, owner.uid, owner.gid);
    }
    // Its own authentication files: the restored postgresql.conf (Patroni's) names the old leader's, which are gone.
    const hba = join(s.dir, "pg_hba.conf");
    const ident = join(s.dir, "pg_ident.conf");
    writeFileSync(hba, "local all all trust\n");
    writeFileSync(ident, "");
    await this.pgbackrest(this.run.onHost, this.repoConf, ["--type=time", `--target=${targetTime(target)}`, "--target-action=promote", "restore"], "pgbackrest restore to a point in time", 300_000);
    const logFile = join(s.log, "postgresql.log");
    const pg = this.run.onHost.spawn(
      [
        join(this.run.pgBinDir, "postgres"), "-D", s.data,
        // A socket only: the scratch instance has no address, and it must never archive into the cluster's repository.
        "-c", "listen_addresses=", "-c", `unix_socket_directories=${s.socket}`, "-c", `port=${PG_PORT}`,
        "-c", "archive_mode=off", "-c", `hba_file=${hba}`, "-c", `ident_file=${ident}`,
        "-c", "logging_collector=off", "-c", "cluster_name=pgchaos-pitr",
      ],
      { user: "postgres", logFile },
    );
    const psql = (sql: string) => this.run.onHost.exec([join(this.run.pgBinDir, "psql"), "-h", s.socket, "-p", String(PG_PORT), "-U", "postgres", "-d", "postgres", "-XAtq", "-c", sql], { timeoutMs: 10_000 });
    const tail = () => (existsSync(logFile) ? readFileSync(logFile, "utf8").trim().split("\n").slice(-6).join("\n") : "");
    try {
      await waitFor({ condition: "the point-in-time restore to reach its target and promote", where: "the scratch instance", timeoutMs: 300_000, intervalMs: 200, signal: this.run.signal }, async () => {
        if (!pg.running()) throw new Error(`the scratch instance's PostgreSQL exited during recovery; end of its log:\n${tail()}`);
        const r = await psql("SELECT pg_is_in_recovery()");
        return r.code === 0 && r.stdout.trim() === "f";
      });
      const r = await psql("SELECT id FROM pgchaos_writes ORDER BY id");
      if (r.code !== 0) commandFailed("reading the write probe's table on the scratch instance", r);
      const ids = r.stdout.split("\n").filter((l) => l.trim() !== "").map(Number);
      return { ids, ms: Math.round(performance.now() - started), log: logFile };
    } finally {
      // A postmaster that had to be SIGKILLed leaves its shared memory segment, keyed on its data directory: teardown
      // finds it there, so the folder stays until then.
      if (await stop(pg)) rmSync(s.data, { recursive: true, force: true });
    }
  }
}

/**
 * A fast shutdown (SIGINT), then SIGKILL if it is still there after 15 s. True when it shut down by itself (or had
 * exited already), false when it had to be killed.
 */
async function stop(p: { pid: number; running(): boolean; exited: Promise<{ signal: NodeJS.Signals | null }> }): Promise<boolean> {
  if (!p.running()) return (await p.exited).signal !== "SIGKILL";
  try {
    process.kill(p.pid, "SIGINT");
  } catch {
    return true;
  }
  const done = await Promise.race([p.exited.then(() => true), sleep(15_000).then(() => false)]);
  if (done || !p.running()) return true;
  try {
    process.kill(p.pid, "SIGKILL");
  } catch {
    // Gone meanwhile.
  }
  await Promise.race([p.exited, sleep(5000)]);
  return false;
}
