import type { HaProfile } from "./profiles.ts";

export interface PatroniNodeInput {
  scope: string;
  name: string;
  address: string;
  /** All members' addresses, for the etcd3 hosts list. */
  etcdHosts: string[];
  subnetCidr: string;
  dataDir: string;
  socketDir: string;
  logDir: string;
  pgpass: string;
  binDir: string;
  profile: HaProfile;
  /** Settings that replace the profile's during bring-up (BRING_UP); undefined bootstraps with the profile's. */
  bringUp?: typeof BRING_UP;
  passwords: { superuser: string; replication: string; rewind: string };
  /** Parameters that archive the member's WAL (backup.ts archiveParameters), where the run keeps backups. */
  archive?: Record<string, string>;
  /** A custom bootstrap that replaces initdb (backup.ts restoreBootstrap: a restore from the repository). */
  bootstrapMethod?: Record<string, unknown>;
}

export const PG_PORT = 5432;
export const REST_PORT = 8008;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

/**
 * Bring-up is not what a scenario measures. With Patroni's default loop_wait of 10 s replicas sleep through
 * most of it, and a replica that starts before the leader made its slot waits wal_retrieve_retry_interval
 * (5 s by default) to retry. Clusters therefore bootstrap with these settings, and the profile's own
 * values replace them through PATCH /config before any probe starts.
 */
export const BRING_UP = {
  dcs: { ttl: 10, loop_wait: 1, retry_timeout: 4 },
  parameters: { wal_retrieve_retry_interval: "100ms" },
} as const;

/** The PATCH /config body that puts back the profile's values of everything BRING_UP overrides. */
export function profileRestore(profile: HaProfile): Record<string, unknown> {
  const dcs = Object.fromEntries(Object.keys(BRING_UP.dcs).map((k) => [k, profile.dcs[k as keyof HaProfile["dcs"]]]));
  const parameters = Object.fromEntries(Object.keys(BRING_UP.parameters).map((k) => [k, profile.postgresql[k] ?? null]));
  return { ...dcs, postgresql: { parameters } };
}

/**
 * The effective HA settings a run reports, whatever the platform: the profile, and what every Patroni
 * stack here renders the same way. `dcs` and `extra` say what the platform adds.
 */
export function reportedSettings(profile: HaProfile, nodes: number, dcs: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    profile: profile.name,
    ...profile.dcs,
    postgresql: profile.postgresql,
    nodes,
    dcs,
    stack: "patroni",
    ...extra,
    watchdog: "off",
    use_pg_rewind: true,
    use_slots: true,
    bring_up: `bootstrapped with ${JSON.stringify({ ...BRING_UP.dcs, ...BRING_UP.parameters })}; every member ran with the profile's values (PATCH /config, checked on each member) before probes started`,
  };
}

/** Patroni's configuration for one member, as an object (written out as YAML). */
export function patroniConfig(n: PatroniNodeInput): Record<string, unknown> {
  const { profile } = n;
  return {
    scope: n.scope,
    name: n.name,
    log: { level: "INFO", format: "%(asctime)s %(levelname)s: %(message)s" },
    restapi: { listen: `${n.address}:${REST_PORT}`, connect_address: `${n.address}:${REST_PORT}` },
    etcd3: { hosts: n.etcdHosts.map((h) => `${h}:${ETCD_CLIENT_PORT}`) },
    bootstrap: {
      dcs: {
        ...profile.dcs,
        ...n.bringUp?.dcs,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          // In the dynamic configuration rather than each member's file: one list for every member, changed with
          // `patronictl edit-config` (the workshop's hba exercise); a member's local pg_hba would override it.
          pg_hba: [
            "local all all trust",
            `host replication replicator ${n.subnetCidr} scram-sha-256`,
            `host all all ${n.subnetCidr} scram-sha-256`,
            "host all all 127.0.0.1/32 scram-sha-256",
          ],
          parameters: {
            wal_level: "replica",
            hot_standby: "on",
            wal_log_hints: "on",
            max_wal_senders: 10,
            max_replication_slots: 10,
            max_connections: 50,
            ...profile.postgresql,
            ...n.bringUp?.parameters,
          },
        },
      },
      // no-sync: a new cluster's data is thrown away with the run, so initdb's closing fsync of every file
      // (0.2 s of a bring-up here) protects nothing.
      initdb: [{ encoding: "UTF8" }, { locale: "C.UTF-8" }, "data-checksums", "no-sync"],
      ...n.bootstrapMethod,
    },
    postgresql: {
      listen: `${n.address}:${PG_PORT}`,
      connect_address: `${n.address}:${PG_PORT}`,
      data_dir: n.dataDir,
      bin_dir: n.binDir,
      pgpass: n.pgpass,
      // A spread checkpoint before each base backup costs seconds of bring-up and rejoin for nothing here.
      basebackup: [{ checkpoint: "fast" }],
      authentication: {
        superuser: { username: "postgres", password: n.passwords.superuser },
        replication: { username: "replicator", password: n.passwords.replication },
        rewind: { username: "rewind_user", password: n.passwords.rewind },
      },
      // Namespaces share one filesystem: every member needs its own socket and log directories, and
      // logs stay outside PGDATA because pg_rewind copies the source's PGDATA/log (pitfalls 1 and 7).
      parameters: {
        unix_socket_directories: n.socketDir,
        logging_collector: "on",
        log_directory: n.logDir,
        log_filename: "postgresql.log",
        log_line_prefix: "%m [%p] %q%u@%d ",
        log_connections: "off",
        // Probes hit read-only members ten times a second; their refused INSERTs need no statement text.
        log_min_error_statement: "fatal",
        shared_buffers: "32MB",
        ...n.archive,
      },
    },
    // There is no /dev/watchdog on these machines (pitfall 8).
    watchdog: { mode: "off" },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
}

export interface EtcdNodeInput {
  name: string;
  address: string;
  dataDir: string;
  cluster: Array<{ name: string; address: string }>;
  token: string;
}

/** etcd's command line for one member (heartbeat and election timeout from LOCAL-PLATFORM-NOTES). */
export function etcdArgs(n: EtcdNodeInput): string[] {
  return [
    "--name", n.name,
    "--data-dir", n.dataDir,
    "--listen-client-urls", `http://${n.address}:${ETCD_CLIENT_PORT},http://127.0.0.1:${ETCD_CLIENT_PORT}`,
    "--advertise-client-urls", `http://${n.address}:${ETCD_CLIENT_PORT}`,
    "--listen-peer-urls", `http://${n.address}:${ETCD_PEER_PORT}`,
    "--initial-advertise-peer-urls", `http://${n.address}:${ETCD_PEER_PORT}`,
    "--initial-cluster", n.cluster.map((m) => `${m.name}=http://${m.address}:${ETCD_PEER_PORT}`).join(","),
    "--initial-cluster-state", "new",
    "--initial-cluster-token", n.token,
    "--heartbeat-interval", "100",
    "--election-timeout", "1000",
    "--enable-v2=false",
    "--logger", "zap",
    "--log-level", "warn",
  ];
}

/** haproxy as the "primary service": routes to whichever member answers 200 on GET /primary. */
/**
 * haproxy's health check of each member: a port and path on the member itself (Patroni's REST API), or, with `at`,
 * an address and port per member elsewhere (the local platform's read-write check, for stacks without an HTTP API).
 */
export type HaproxyCheck = { port: number; path: string; at?: (member: string) => { host: string; port: number } };

export function haproxyConfig(opts: {
  bind: string;
  port: number;
  members: Array<{ name: string; address: string }>;
  pidFile: string;
  /** The health check that answers 200 on the primary alone: Patroni's REST API by default. */
  check?: HaproxyCheck;
}): string {
  const check = opts.check ?? { port: REST_PORT, path: "/primary" };
  const checkAt = (m: string) => {
    const at = check.at?.(m);
    return at ? `check addr ${at.host} port ${at.port}` : `check port ${check.port}`;
  };
  const servers = opts.members
    .map((m) => `    server ${m.name} ${m.address}:${PG_PORT} maxconn 100 ${checkAt(m.name)} inter 500ms fall 1 rise 1 on-marked-down shutdown-sessions`)
    .join("\n");
  return `global
    maxconn 200
    pidfile ${opts.pidFile}

defaults
    mode tcp
    timeout connect 1s
    timeout client 30m
    timeout server 30m
    timeout check 1s
    default-server init-addr none

listen primary
    bind ${opts.bind}:${opts.port}
    option httpchk GET ${check.path}
    http-check expect status 200
${servers}
`;
}
