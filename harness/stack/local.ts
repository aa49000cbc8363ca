import type { Logger } from "pino";
import type { BackupTaken, Endpoint } from "../platform/types.ts";
import type { AgentApi } from "./types.ts";

/**
 * What an HA stack gives the local platform (network namespaces on this machine) so the platform needs to know
 * nothing of it: the files and command line of its agent on each node, the coordination service it runs beside
 * it (if any), how haproxy tells the primary, and what it does once the cluster is up. A new stack is a folder
 * under harness/stack/ with a HaStack and these parts; the platform does machines, networks and processes.
 */

/** A process the platform started for the stack (procs.ts Spawned has this shape). */
export interface NodeProcess {
  pid: number;
  running(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** One node as the stack sees it. */
export interface LocalNode {
  name: string;
  address: string;
  /** The node's own folder (owned by the agent's user): config, sockets, pgpass. */
  dir: string;
  dataDir: string;
  logDir: string;
  /** Starts a long-running process in the node's network namespace (root unless `user`), its output to `logFile`. */
  spawn(argv: string[], opts: { logFile: string; user?: string; env?: Record<string, string> }): NodeProcess;
  /**
   * Runs a command to its end in the node's network namespace as the agent's user (the agent's environment plus
   * `env`), from the node's folder: its exit code and output. A command still running after `timeoutMs` is killed.
   */
  exec(argv: string[], opts?: { env?: Record<string, string>; timeoutMs?: number; input?: string }): Promise<{ code: number; stdout: string; stderr: string }>;
}

export interface LocalRun {
  runId: string;
  /** The run's own folder on this machine (node folders are inside it), removed at teardown. */
  workDir: string;
  /** WAL archiving and backups to a repository of the run (a scenario with a backup or a disaster asks for them). */
  archive: boolean;
  nodes: readonly LocalNode[];
  /**
   * This machine itself, outside every node's namespaces, with no address of the run (a repository host, a scratch
   * instance on a socket): `exec` runs as the agent's user, `spawn` as root unless `user`.
   */
  onHost: Pick<LocalNode, "exec" | "spawn">;
  /** The hosts of the stack's own services, one per name it asked for (LocalStackParts.serviceHosts). */
  services: readonly LocalNode[];
  subnetCidr: string;
  pgBinDir: string;
  passwords: { superuser: string; replication: string; rewind: string };
  credentials: { user: string; password: string; database: string };
  endpoint(node: string): Endpoint;
  readyTimeoutMs: number;
  log: Logger;
  signal?: AbortSignal;
  /** Throws once teardown began: nothing may be started then. */
  assertNotTornDown(what: string): void;
}

/** A coordination service with one member per node (etcd beside Patroni). */
export interface LocalDcs {
  /** What the run reports it as ("etcd3"). */
  readonly name: string;
  /** Starts every member; resolves once each serves its peers (quorum is awaited apart). */
  startAll(): Promise<void>;
  waitQuorum(): Promise<void>;
  /** The node whose member leads now. */
  leader(): Promise<string | undefined>;
  /** The hosts it runs on: every member's node (etcd), or a service host of its own (pg_auto_failover's monitor). */
  hosts(): string[];
  kill(node: string): Promise<void>;
  /** Starts a killed member again on its data (no-op while it runs). */
  start(node: string): Promise<void>;
  pause(node: string): Promise<void>;
  resume(node: string): Promise<void>;
  /** Every process it started that still has to end. */
  processes(): NodeProcess[];
}

export interface LocalStackParts {
  /** Settings the run reports, beside the platform's. */
  readonly settings: Record<string, unknown>;
  /**
   * Hosts of its own the stack runs services on, beside the members' (pg_auto_failover's monitor): each a machine
   * of its own with an address on the run's network, which partitions treat as one more peer.
   */
  readonly serviceHosts?: readonly string[];
  /** Its coordination service (etcd beside Patroni; pg_auto_failover's monitor on its service host). */
  readonly dcs?: LocalDcs;
  /** Folders the stack needs in the node's folder, made by the platform (owned by root unless said). */
  readonly nodeFolders: ReadonlyArray<{
    name: string;
    mode: number;
    owner: "root" | "agent";
    /**
     * Emptied whenever the node's pod starts, as a container's /run is: a socket lock file a killed postmaster left
     * names a PID that the new pod's PID namespace hands out again, and PostgreSQL then refuses to start ("lock file
     * already exists ... Is another postmaster (PID 26) using socket file").
     */
    ephemeral?: boolean;
  }>;
  /** Programs the agent's user must be able to run, checked before anything starts. */
  readonly programs: ReadonlyArray<{ path: string; what: string }>;
  /** Writes the node's configuration, owned by the agent's user. */
  writeNodeFiles(node: LocalNode, owner: { uid: number; gid: number }): void;
  /** The HA agent's command line (run as postgres in the node's pod), its log and environment. */
  agent(node: LocalNode): { argv: string[]; logFile: string; env: Record<string, string> };
  /** The agent API of a member, as the HaStack asks it (Patroni's REST API). */
  readonly api: AgentApi;
  /** Whether the node's agent answers its API: a live agent must never be started twice. */
  agentAnswers(node: string): Promise<boolean>;
  /**
   * haproxy's health check: a port and HTTP path of the member that answer 200 on the primary alone, or
   * "read-write" where the stack has no such endpoint: the platform then asks each member's PostgreSQL whether it
   * takes writes, from the clients' side, as libpq's target_session_attrs=read-write does.
   */
  readonly primaryCheck: { port: number; path: string } | "read-write";
  /**
   * The order in which the members' agents first start (all at once when absent). `start` starts a node's agent
   * and returns once it runs.
   */
  bringUp?(start: (node: string) => Promise<void>): Promise<void>;
  /** Once bring-up has one leader and every replica streaming: put the profile in place, and check it took. */
  afterBringUp(leader: string): Promise<void>;
  /** The node's configuration files for the report, secrets left out: file name to content. */
  redactedFiles(node: LocalNode): Record<string, string>;
  /** Backups and restores, where the stack offers them and the run asked for archiving (LocalRun.archive). */
  readonly backups?: LocalBackups;
}

/**
 * A stack's backups on the local platform (Patroni with pgBackRest): a repository in the run's folder that every member
 * archives its WAL to, full backups, and the two restores of a disaster recovery.
 */
export interface LocalBackups {
  /** The backup tool and its settings, for the report. */
  readonly settings: Record<string, unknown>;
  /** Makes the repository and every member's configuration for it (once, before any member starts). */
  prepare(owner: { uid: number; gid: number }): void;
  /** A full backup taken on `leader`, the member that is primary now; returns what the repository says of it. */
  fullBackup(leader: LocalNode): Promise<BackupTaken>;
  /** The last WAL segment in the repository's archive (undefined when it holds none). */
  archiveEnd(): Promise<string | undefined>;
  /** Forgets the cluster in the coordination service (what `patronictl remove` deletes), so that members bootstrap anew. */
  forget(): Promise<void>;
  /** Rewrites every member's configuration so that a member with no data restores the repository's latest backup and all of its WAL. */
  useRestoreBootstrap(owner: { uid: number; gid: number }): void;
  /**
   * Restores the repository to `target` (a time) into a scratch instance of its own beside the cluster, started on a
   * socket only, waits for it to reach the target and promote, and returns its copy of the write-probe table's ids.
   */
  restoreToTime(target: Date): Promise<{ ids: number[]; ms: number; log: string }>;
  /** Logs of its own beyond the members' (the scratch instance's), for the report: folder name to path. */
  logDirs(): Record<string, string>;
  /** Data directories of its own beyond the members' (the scratch instance's): teardown looks for shared memory they left. */
  dataDirs(): string[];
}
