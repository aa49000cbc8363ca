/**
 * Backups of a Patroni cluster with pgBackRest (Debian 12's 2.45), as its users run it: every member archives its WAL
 * to one repository with `archive-push`, full backups are taken on the primary, and a cluster whose data is gone
 * comes back through Patroni's custom bootstrap (`bootstrap.method: pgbackrest`), which restores the repository's
 * latest backup and replays all of its WAL on the one member that wins the initialize key; the others then clone it.
 */

/** The stanza: pgBackRest's name for one cluster in a repository. */
export const STANZA = "pgchaos";
export const PGBACKREST = "/usr/bin/pgbackrest";

/**
 * WAL is archived by segment (16 MB): a probe's writes fill one in minutes, so without a forced switch the archive
 * would stay a segment behind for as long. `archive_timeout` switches segments that carry writes after this many
 * seconds, which bounds what a lost cluster loses (the recovery point) to about this much plus one archive-push.
 */
export const ARCHIVE_TIMEOUT_S = 5;

export interface RepoPaths {
  /** The repository, shared by every member (one filesystem here, as an NFS mount or an object store would be). */
  repo: string;
  /** pgBackRest's lock folder: one per repository, so that two commands on it never run at once. */
  lock: string;
}

/** One pgBackRest configuration: the repository and, for the stanza, the PostgreSQL it reads or restores into. */
export function pgbackrestConf(o: RepoPaths & { logDir: string; spoolDir: string; dataDir: string; socketDir?: string; port?: number }): string {
  const lines = [
    "[global]",
    `repo1-path=${o.repo}`,
    // One full backup is what a scenario takes; two are kept so a second never expires the first mid-run.
    "repo1-retention-full=2",
    `lock-path=${o.lock}`,
    `log-path=${o.logDir}`,
    "log-level-file=detail",
    `spool-path=${o.spoolDir}`,
    // lz4: the fastest compression pgBackRest has; the segments archive_timeout switches early are mostly zeros.
    "compress-type=lz4",
    // A backup checkpoints at once instead of spreading its checkpoint over checkpoint_timeout's minutes.
    "start-fast=y",
    "",
    `[${STANZA}]`,
    `pg1-path=${o.dataDir}`,
  ];
  if (o.socketDir) lines.push(`pg1-socket-path=${o.socketDir}`);
  if (o.port) lines.push(`pg1-port=${o.port}`);
  return `${lines.join("\n")}\n`;
}

/** The PostgreSQL parameters that archive every member's WAL to the repository (archive_mode needs them from the start). */
export function archiveParameters(conf: string): Record<string, string> {
  return {
    archive_mode: "on",
    archive_command: `${PGBACKREST} --config=${conf} --stanza=${STANZA} archive-push %p`,
    archive_timeout: `${ARCHIVE_TIMEOUT_S}s`,
  };
}

/**
 * Patroni's custom bootstrap that restores the repository: the latest backup, then every archived WAL segment
 * (`--type=default`: recovery runs to the end of the archive and promotes). pgBackRest writes the restore_command and
 * recovery.signal; `keep_existing_recovery_conf` keeps Patroni from removing them, `no_params` from appending
 * `--scope`/`--datadir`, which pgBackRest does not take.
 */
export function restoreBootstrap(conf: string): Record<string, unknown> {
  return {
    method: "pgbackrest",
    pgbackrest: {
      command: `${PGBACKREST} --config=${conf} --stanza=${STANZA} --type=default restore`,
      keep_existing_recovery_conf: true,
      no_params: true,
    },
  };
}

/** What `pgbackrest info --output=json` says of the stanza: its archive's last segment and its backups. */
export interface RepoInfo {
  archiveMax?: string;
  backups: Array<{ label: string; type: string; startLsn: string; stopLsn: string; sizeBytes: number; repoBytes: number; startedAt: number; stoppedAt: number }>;
}

export function parseInfo(json: string): RepoInfo {
  const stanzas = JSON.parse(json) as Array<{
    name: string;
    archive?: Array<{ max?: string | null }>;
    backup?: Array<{ label: string; type: string; lsn: { start: string; stop: string }; info: { size: number; repository: { size: number } }; timestamp: { start: number; stop: number } }>;
  }>;
  const s = stanzas.find((x) => x.name === STANZA);
  if (!s) throw new Error(`pgbackrest info knows no stanza ${STANZA}: ${json.slice(0, 300)}`);
  const maxes = (s.archive ?? []).map((a) => a.max).filter((m): m is string => typeof m === "string" && m.length === 24);
  return {
    // Segment names sort as their timeline and position do.
    archiveMax: maxes.sort().at(-1),
    backups: (s.backup ?? []).map((b) => ({
      label: b.label,
      type: b.type,
      startLsn: b.lsn.start,
      stopLsn: b.lsn.stop,
      sizeBytes: b.info.size,
      repoBytes: b.info.repository.size,
      startedAt: b.timestamp.start * 1000,
      stoppedAt: b.timestamp.stop * 1000,
    })),
  };
}

/**
 * A recovery target time as pgBackRest parses it to pick the backup set and PostgreSQL takes it as recovery_target_time:
 * `2026-11-30 16:46:46.146+00`, in UTC, to the millisecond.
 */
export function targetTime(d: Date): string {
  return `${d.toISOString().replace("T", " ").replace("Z", "")}+00`;
}
