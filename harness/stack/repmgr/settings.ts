import type { HaProfile } from "../patroni/profiles.ts";

/**
 * repmgrd's failover timings (repmgr.conf). A standby's repmgrd checks its upstream every monitor_interval_secs; once
 * the upstream stops answering it tries reconnect_attempts times, reconnect_interval seconds apart, then holds an
 * election. `default` is repmgr 5.3's own defaults written out; `fast` is this harness's fast profile for it.
 */
export interface RepmgrTimings {
  monitor_interval_secs: number;
  reconnect_attempts: number;
  reconnect_interval: number;
  /** Seconds every conninfo gives a connection attempt: without it a dropped packet stretches each one to TCP's own timeout. */
  connect_timeout: number;
}

export const REPMGR_DEFAULTS: RepmgrTimings = { monitor_interval_secs: 2, reconnect_attempts: 6, reconnect_interval: 10, connect_timeout: 2 };

export const REPMGR_FAST: RepmgrTimings = { monitor_interval_secs: 1, reconnect_attempts: 3, reconnect_interval: 2, connect_timeout: 2 };

export function repmgrTimings(profile: HaProfile): RepmgrTimings {
  const base = profile.name.split("+")[0];
  if (base === "fast") return { ...REPMGR_FAST };
  if (base === "default") return { ...REPMGR_DEFAULTS };
  throw new Error(`repmgr has no timings for the profile "${profile.name}" (known: default, fast)`);
}

/** The longest a dead primary goes unnoticed before an election, in seconds (stands where Patroni's ttl does). */
export function detectionSeconds(t: RepmgrTimings): number {
  return t.monitor_interval_secs + t.reconnect_attempts * (t.reconnect_interval + t.connect_timeout);
}

const quote = (s: string) => `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

/** One node's repmgr.conf. Commands run as the node's user in its pod, with PostgreSQL's programs from `binDir`. */
export function repmgrConf(o: {
  nodeId: number;
  name: string;
  address: string;
  port: number;
  dataDir: string;
  binDir: string;
  confFile: string;
  pidFile: string;
  pgLog: string;
  timings: RepmgrTimings;
}): string {
  const repmgr = `${o.binDir}/repmgr`;
  const pgCtl = `${o.binDir}/pg_ctl`;
  const lines: Record<string, string | number | boolean> = {
    node_id: o.nodeId,
    node_name: quote(o.name),
    conninfo: quote(`host=${o.address} port=${o.port} user=repmgr dbname=repmgr connect_timeout=${o.timings.connect_timeout}`),
    data_directory: quote(o.dataDir),
    pg_bindir: quote(o.binDir),
    use_replication_slots: "yes",
    failover: quote("automatic"),
    // Promotion only when the other standbys also lost the primary (repmgr 5.x), as its documentation advises.
    primary_visibility_consensus: "true",
    promote_command: quote(`${repmgr} standby promote -f ${o.confFile}`),
    follow_command: quote(`${repmgr} standby follow -f ${o.confFile} --upstream-node-id=%n`),
    monitor_interval_secs: o.timings.monitor_interval_secs,
    reconnect_attempts: o.timings.reconnect_attempts,
    reconnect_interval: o.timings.reconnect_interval,
    repmgrd_pid_file: quote(o.pidFile),
    log_level: quote("INFO"),
    // PostgreSQL as the pod runs it: pg_ctl with its log in the node's log folder.
    service_start_command: quote(`${pgCtl} -w -t 60 -D ${o.dataDir} -l ${o.pgLog} start`),
    service_stop_command: quote(`${pgCtl} -w -t 60 -D ${o.dataDir} -m fast stop`),
    service_restart_command: quote(`${pgCtl} -w -t 60 -D ${o.dataDir} -l ${o.pgLog} -m fast restart`),
    service_reload_command: quote(`${pgCtl} -D ${o.dataDir} reload`),
  };
  return `${Object.entries(lines).map(([k, v]) => `${k}=${v}`).join("\n")}\n`;
}

/** PostgreSQL settings a repmgr member needs (appended to postgresql.conf on the first node; the standbys clone it). */
export function postgresqlSettings(o: { socketDir: string; port: number }): string {
  return `# pgchaos: repmgr member
listen_addresses = '*'
port = ${o.port}
unix_socket_directories = '${o.socketDir}'
shared_preload_libraries = 'repmgr'
wal_level = replica
hot_standby = on
wal_log_hints = on
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '256MB'
password_encryption = 'scram-sha-256'
`;
}

/** pg_hba.conf: the node's own user over its socket, everything else with a password from the run's network. */
export function pgHba(subnetCidr: string): string {
  return `# pgchaos: repmgr member
local   all          all                     peer
host    replication  repmgr   ${subnetCidr}  scram-sha-256
host    all          all      ${subnetCidr}  scram-sha-256
`;
}

/** One row of `repmgr cluster show --csv`: node id, connection status (0 running), recovery type (0 primary, 1 standby). */
export function parseClusterCsv(csv: string, names: ReadonlyMap<number, string>): Array<{ name: string; running: boolean; primary: boolean }> {
  return csv
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [id, status, recovery] = l.split(",").map((x) => Number(x.trim()));
      const name = names.get(id!);
      if (name === undefined || Number.isNaN(status) || Number.isNaN(recovery)) throw new Error(`unexpected line of repmgr cluster show --csv: ${JSON.stringify(l)}`);
      return { name, running: status === 0, primary: recovery === 0 };
    });
}
