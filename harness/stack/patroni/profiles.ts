/**
 * HA profiles are data: every setting that shapes failover behaviour, recorded in each run's report.
 * `default` is Patroni 3's own defaults written out, so a report states them instead of implying them.
 */
export interface HaProfile {
  name: string;
  description: string;
  /** Patroni dynamic configuration (bootstrap.dcs). */
  dcs: {
    ttl: number;
    loop_wait: number;
    retry_timeout: number;
    maximum_lag_on_failover: number;
    synchronous_mode: boolean;
    synchronous_mode_strict: boolean;
    failsafe_mode: boolean;
    primary_start_timeout: number;
  };
  /** PostgreSQL parameters that change failover behaviour. */
  postgresql: Record<string, string | number | boolean>;
}

const patroniDefaults: HaProfile["dcs"] = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  synchronous_mode: false,
  synchronous_mode_strict: false,
  failsafe_mode: false,
  primary_start_timeout: 300,
};

export const profiles: Record<string, HaProfile> = {
  default: {
    name: "default",
    description: "Patroni 3 defaults: ttl 30, loop_wait 10, retry_timeout 10; PostgreSQL defaults",
    dcs: { ...patroniDefaults },
    postgresql: { wal_sender_timeout: "60s", wal_receiver_timeout: "60s", wal_retrieve_retry_interval: "5s" },
  },
  fast: {
    name: "fast",
    description: "Aggressive failover: ttl 10, loop_wait 1, retry_timeout 4, wal_sender_timeout 10s",
    dcs: { ...patroniDefaults, ttl: 10, loop_wait: 1, retry_timeout: 4 },
    // An isolated primary only turns read-only once its walsenders time out (LOCAL-PLATFORM-NOTES, pitfall 6).
    postgresql: { wal_sender_timeout: "10s", wal_receiver_timeout: "10s", wal_retrieve_retry_interval: "5s" },
  },
};

export function profileNames(): string[] {
  return Object.keys(profiles);
}

export function getProfile(name: string, opts: { sync?: boolean } = {}): HaProfile {
  // Own keys only: "constructor" or "__proto__" must not resolve to Object.prototype members.
  const p = Object.hasOwn(profiles, name) ? profiles[name] : undefined;
  if (!p) {
    throw new Error(`unknown profile "${name}": choose one of ${profileNames().join(", ")}`);
  }
  const copy: HaProfile = structuredClone(p);
  if (opts.sync) {
    copy.name = `${p.name}+sync`;
    copy.dcs.synchronous_mode = true;
  }
  return copy;
}
