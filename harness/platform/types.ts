import type { HaProfile } from "../stack/patroni/profiles.ts";
import type { HaStack } from "../stack/types.ts";
import type { PlatformCapability } from "../scenario/capabilities.ts";
import type { Logger } from "pino";
import type { Grudge } from "../faults/grudge.ts";
import type { NodeCommand } from "../faults/rules.ts";

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * How the harness logs in to PostgreSQL: `options` (libpq's, e.g. `-c search_path=...`) where the probe tables live in
 * a schema of the run's, `ssl` (node-postgres's) where the server takes TLS only (an attached cluster:
 * kube/attach-cluster.ts).
 */
export interface DbCredentials {
  user: string;
  password: string;
  database: string;
  options?: string;
  ssl?: { rejectUnauthorized: boolean };
}

export interface ClusterSpec {
  /** Cluster (Patroni scope) name. */
  name: string;
  nodes: number;
  profile: HaProfile;
  /** Where the run keeps node logs and rendered configs for the report. */
  runDir: string;
  /** Keep data directories after teardown. */
  keep?: boolean;
  /** Readiness budget. */
  readyTimeoutMs?: number;
  logger: Logger;
  /** Ctrl-C: every wait of the deploy stops, and what was made is torn down. */
  signal?: AbortSignal;
  /** What runs on the nodes; Debian 12's Patroni when absent. */
  stack?: HaStack;
  /** Archive WAL to a backup repository of the run from the start (a scenario with a backup or a disaster). */
  archive?: boolean;
  /**
   * The scenario injects network faults (partitions, packet loss): a platform that needs an agent of its own for them
   * (`--platform kube`: kube/net-agent.ts) starts it with the cluster.
   */
  networkFaults?: boolean;
}

/** A full backup as the repository records it. */
export interface BackupTaken {
  label: string;
  startLsn: string;
  stopLsn: string;
  sizeBytes: number;
  repoBytes: number;
  ms: number;
}

/**
 * Backups and restores of a cluster deployed with `archive` (the disaster-recovery scenario): WAL archived by every
 * member to a repository of the run, full backups, the loss of every member's data, and the two restores.
 */
export interface ClusterBackups {
  /** The backup tool and its settings, for the report. */
  readonly settings: Record<string, unknown>;
  /** A full backup of the primary. */
  fullBackup(): Promise<BackupTaken>;
  /** The archive's last WAL segment (undefined while it holds none). */
  archiveEnd(): Promise<string | undefined>;
  /** Every member's processes killed and its data directory emptied, and the cluster forgotten by its DCS. */
  destroyAll(): Promise<void>;
  /** The cluster bootstrapped again from the repository (latest backup, whole archive): starts every member. */
  restoreLatest(): Promise<void>;
  /** The repository restored to `target` in a scratch instance beside the cluster: its write-probe ids. */
  restoreToTime(target: Date): Promise<{ ids: number[]; ms: number }>;
}

/** A member as the HA stack reports it. */
export interface Member {
  name: string;
  host: string;
  /** "leader" | "replica" | "sync_standby" | "standby_leader" ... as Patroni says it. */
  role: string;
  /** Patroni state: "running", "starting", "stopped", ... */
  state: string;
  timeline?: number;
  /** Replication lag in bytes as the leader sees it. */
  lagBytes?: number;
  /** Whether the leader reports this replica's walreceiver as streaming. */
  streaming?: boolean;
}

/**
 * A deployed, started cluster. Faults and probes go through this interface only, so that every platform
 * (local namespaces, kind, minikube) offers the same operations.
 */
export interface Cluster extends AsyncDisposable {
  readonly platform: string;
  readonly spec: ClusterSpec;
  readonly nodes: readonly string[];
  /**
   * Hosts of the stack's own services beside the members (pg_auto_failover's monitor): no member runs there, but a
   * partition cuts them like any peer, and addressOf() knows them.
   */
  readonly serviceHosts?: readonly string[];
  /** Where a client reaches "the primary" (haproxy locally, the leader Service on Kubernetes). */
  readonly primaryService: Endpoint;
  /** Effective HA settings for the report. */
  readonly settings: Record<string, unknown>;
  /** Present when the cluster was deployed with `archive` on a platform and stack that keep backups. */
  readonly backups?: ClusterBackups;
  /** Credentials for the probe role; generated per run (an attached cluster's: the operator's). */
  readonly credentials: DbCredentials;
  /** What HA software really runs, where the cluster says so itself (an attached operator's cluster) rather than the run's stack. */
  readonly stackInfo?: import("../stack/types.ts").StackInfo;
  /**
   * The cluster's own ttl over the profile's, where the cluster was not deployed with the profile (an attached one): the
   * scenario's holds and bounds are stretched by it, as by a stack's adjusted timings.
   */
  readonly timeScale?: number;
  endpoint(node: string): Endpoint;
  /** The member list from the HA stack; throws if no member answers. */
  members(): Promise<Member[]>;
  /** Awaits etcd quorum, one leader and all other members streaming. */
  waitReady(opts?: { timeoutMs?: number; reason?: string; signal?: AbortSignal }): Promise<{ ms: number; leader: string }>;
  /** Like a pod kill: SIGKILL of the HA agent, PostgreSQL and its children on the node. */
  killNode(node: string): Promise<void>;
  /** Like a drain: graceful stop of the HA agent (which stops PostgreSQL), awaited. */
  stopNode(node: string): Promise<void>;
  /** Starts the node's HA agent again (no-op if it runs). */
  startNode(node: string): Promise<void>;
  isNodeRunning(node: string): boolean;
  /**
   * The machine the member runs on fails at once, like a power loss: every process on it dies (HA agent,
   * PostgreSQL and, where it has one, its DCS member) and its network goes silent, so peers and clients see
   * timeouts rather than refused connections. Returns the machine's name.
   */
  failHost(node: string): Promise<{ host: string }>;
  /** Powers the member's machine back on: network, DCS member and HA agent come back (no-op if it runs). */
  restoreHost(node: string): Promise<void>;
  /** Planned switchover through the HA stack's API. */
  switchover(opts: { candidate?: string }): Promise<{ from: string; to?: string }>;
  /** SIGKILL of Patroni alone (PostgreSQL keeps running) or of PostgreSQL alone (Patroni restarts it). */
  killProcess(node: string, part: "patroni" | "postgres"): Promise<void>;
  /** SIGSTOP of Patroni, PostgreSQL or both on the node; `resume` sends SIGCONT to all of them. */
  pause(node: string, part: "patroni" | "postgres" | "all"): Promise<void>;
  resume(node: string): Promise<void>;
  /** Manual failover to a named replica through the HA stack's API. */
  failover(candidate: string): Promise<{ from?: string; to: string }>;

  /** Tag carried by every firewall rule a fault adds (heal and cleanup remove exactly these). */
  readonly ruleTag: string;
  addressOf(node: string): string;
  /** Address the harness's clients (primary service, probes) come from. */
  readonly clientsAddress: string;
  /** `iptables ARGS` inside the node's network namespace. */
  iptables(node: string, args: string[]): Promise<void>;
  /**
   * Several `-A` rules on one node at once (iptables-restore --noflush: one commit), where each command costs a round
   * trip (an exec into a pod or a node container): a partition then cuts a node from its peers and from the clients
   * at the same instant, instead of letting clients write for a while to a node already cut from its replicas.
   */
  iptablesBatch?(node: string, rules: string[][]): Promise<void>;
  /** Removes every tagged rule on the node (every node when none is named); returns how many. */
  clearRules(node?: string): Promise<number>;
  listRules(): Promise<string[]>;
  setLink(node: string, up: boolean): Promise<void>;
  /** `tc ARGS` inside the node's network namespace. */
  tc(node: string, args: string[]): Promise<void>;
  /** Undefined when latency can be injected; otherwise the reason it cannot. */
  latencyUnsupported(): Promise<string | undefined>;

  /** The node whose DCS member leads the DCS now. */
  dcsLeader(): Promise<string | undefined>;
  /** The hosts the DCS runs on (every member's node for etcd beside Patroni; pg_auto_failover's monitor host). */
  dcsHosts?(): readonly string[];
  killDcs(node: string): Promise<void>;
  startDcs(node: string): Promise<void>;
  pauseDcs(node: string): Promise<void>;
  resumeDcs(node: string): Promise<void>;

  /**
   * Starts a process in the node's network, beside its database (an application pod on that node), with
   * stdout piped to the caller. Cleanup finds it by the run's marker, which the platform adds.
   */
  runInNodeNetwork(node: string, argv: string[], env: Record<string, string>): import("node:child_process").ChildProcess;

  /**
   * Platform-specific translations, where the generic ones do not fit (on Kubernetes the DCS is the API
   * server, and a pod cut from its peers must also lose the API server).
   */
  partitionRules?(grudge: Grudge): NodeCommand[];
  dcsCutRules?(nodes: readonly string[]): NodeCommand[];
  /** Maps a server address seen by the write probe to a member name (pod IPs change on Kubernetes). */
  nodeOfAddress?(address: string): string | undefined;

  /** Copies node logs into `${runDir}/logs/<node>/`. */
  collectLogs(): Promise<void>;
  /** Removes everything of the cluster; idempotent. */
  teardown(): Promise<{ ms: number }>;
}

export interface Platform {
  readonly name: string;
  /** What it can do to machines; a scenario needing more is refused before deploy (scenario/capabilities.ts). */
  readonly capabilities: ReadonlySet<PlatformCapability>;
  /** Why a capability is missing, for the refusal. */
  readonly whyNot?: Partial<Record<PlatformCapability, string>>;
  /**
   * Runs the stack inside an image it builds for it (docker, kind, minikube, kube): the run describes the stack
   * (stack/index.ts describeStack) instead of installing it on this machine.
   */
  readonly stacksInImage?: boolean;
  /** Fails with an EnvironmentError saying how to fix a machine that cannot run this platform. */
  preflight(): Promise<void>;
  deploy(spec: ClusterSpec): Promise<Cluster>;
  /**
   * Removes what crashed or killed runs left on this platform (runs whose owner lives are left alone unless
   * `force`); returns lines saying what was done, for the CLI.
   */
  cleanup(opts: { force?: boolean; log: Logger }): Promise<string[]>;
}
