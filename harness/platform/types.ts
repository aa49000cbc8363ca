import type { HaProfile } from "../stack/patroni/profiles.ts";
import type { Logger } from "pino";

export interface Endpoint {
  host: string;
  port: number;
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
  /** Where a client reaches "the primary" (haproxy locally, the leader Service on Kubernetes). */
  readonly primaryService: Endpoint;
  /** Effective HA settings for the report. */
  readonly settings: Record<string, unknown>;
  /** Credentials for the probe role; generated per run. */
  readonly credentials: { user: string; password: string; database: string };
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
  /** Planned switchover through the HA stack's API. */
  switchover(opts: { candidate?: string }): Promise<{ from: string; to?: string }>;
  /** Copies node logs into `${runDir}/logs/<node>/`. */
  collectLogs(): Promise<void>;
  /** Removes everything of the cluster; idempotent. */
  teardown(): Promise<{ ms: number }>;
}

export interface Platform {
  readonly name: string;
  /** Fails with an EnvironmentError saying how to fix a machine that cannot run this platform. */
  preflight(): Promise<void>;
  deploy(spec: ClusterSpec): Promise<Cluster>;
}
