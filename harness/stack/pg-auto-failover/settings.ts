import type { HaProfile } from "../patroni/profiles.ts";

/**
 * pg_auto_failover's failover timings: the monitor's GUCs (pgautofailover.*, milliseconds) and the keeper's
 * `timeout.network_partition_timeout` (seconds). `default` is pg_auto_failover 2.0's own defaults written out, so a
 * report states them; `fast` is this harness's fast profile for it.
 */
export interface PgafTimings {
  monitor: {
    health_check_period: number;
    health_check_timeout: number;
    health_check_max_retries: number;
    health_check_retry_delay: number;
    node_considered_unhealthy_timeout: number;
    primary_demote_timeout: number;
    startup_grace_period: number;
  };
  keeper: { network_partition_timeout: number };
}

export const PGAF_DEFAULTS: PgafTimings = {
  monitor: {
    health_check_period: 5000,
    health_check_timeout: 5000,
    health_check_max_retries: 2,
    health_check_retry_delay: 2000,
    node_considered_unhealthy_timeout: 20000,
    primary_demote_timeout: 30000,
    startup_grace_period: 10000,
  },
  keeper: { network_partition_timeout: 20 },
};

/**
 * The fast profile. A primary's keeper that can reach neither the monitor nor any standby demotes it after
 * network_partition_timeout; the monitor, once it judged the primary unhealthy, waits primary_demote_timeout for it to
 * report "demoted" before it promotes a standby. The demote timeout stays above the partition timeout (10 s over 5 s,
 * after the monitor's own 5 s of unhealthy), as pg_auto_failover's documentation asks: below it, the monitor could
 * promote before the old primary's keeper had even begun to demote it. It is no guarantee: the keeper does not count
 * itself partitioned while a standby still shows in pg_stat_replication (a dead walsender stays there until
 * wal_sender_timeout). What keeps a cut-off primary from acknowledging writes is the synchronous replication
 * pg_auto_failover sets up by default.
 */
export const PGAF_FAST: PgafTimings = {
  monitor: {
    health_check_period: 1000,
    health_check_timeout: 1000,
    health_check_max_retries: 1,
    health_check_retry_delay: 500,
    node_considered_unhealthy_timeout: 5000,
    primary_demote_timeout: 10000,
    startup_grace_period: 10000,
  },
  keeper: { network_partition_timeout: 5 },
};

/** The timings a harness profile means for pg_auto_failover (only `default` and `fast` exist, as for Patroni). */
export function pgafTimings(profile: HaProfile): PgafTimings {
  const base = profile.name.split("+")[0];
  if (base === "fast") return structuredClone(PGAF_FAST);
  if (base === "default") return structuredClone(PGAF_DEFAULTS);
  throw new Error(`pg_auto_failover has no timings for the profile "${profile.name}" (known: default, fast)`);
}

/**
 * The worst time from a primary's death to a promotion the monitor decides, in seconds: the unhealthy timeout plus the
 * demote timeout. It stands where Patroni's ttl stands when scenario holds and bounds are stretched (timeScale).
 */
export function failoverBudgetSeconds(t: PgafTimings): number {
  return (t.monitor.node_considered_unhealthy_timeout + t.monitor.primary_demote_timeout) / 1000;
}

/** `ALTER SYSTEM` statements that put the monitor's timings in place (run in the monitor's database, then reload). */
export function monitorSettingsSql(t: PgafTimings): string {
  const lines = Object.entries(t.monitor).map(([k, v]) => `ALTER SYSTEM SET pgautofailover.${k} = ${Number(v)};`);
  return `${lines.join("\n")}\nSELECT pg_reload_conf();\n`;
}

/**
 * `pg_autoctl show state --json` rows as members: a role for what the node is now (its reported state), "running" once
 * the monitor sees it healthy and in the state it assigned.
 */
export interface PgafNodeState {
  nodename: string;
  nodehost: string;
  nodeport: number;
  health: number;
  reported_tli?: number;
  reported_lsn?: string;
  current_group_state: string;
  assigned_group_state: string;
}

/** Reported states in which the node's PostgreSQL is the primary (it takes writes unless synchronous replication blocks them). */
const PRIMARY_STATES = new Set(["single", "wait_primary", "primary", "join_primary", "apply_settings", "prepare_maintenance", "draining", "demote_timeout"]);

export function normaliseNode(s: PgafNodeState): { name: string; host: string; role: string; state: string; timeline?: number; streaming?: boolean; pgafState: string } {
  const leader = PRIMARY_STATES.has(s.current_group_state);
  const settled = s.current_group_state === s.assigned_group_state;
  return {
    name: s.nodename,
    host: s.nodehost,
    role: leader ? "leader" : "replica",
    state: s.health !== 1 ? "unhealthy" : settled ? "running" : `${s.current_group_state}→${s.assigned_group_state}`,
    timeline: s.reported_tli,
    // A standby reports "secondary" only while it streams from the primary (pg_auto_failover's own definition).
    streaming: leader ? undefined : s.current_group_state === "secondary",
    pgafState: `${s.current_group_state}/${s.assigned_group_state}`,
  };
}
