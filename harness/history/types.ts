/**
 * The history is the single source of truth of a run (DESIGN.md, idea 1). Every probe operation, fault
 * and phase change is appended as it happens; checkers are pure functions of it.
 */

/** invoke: an operation started; ok: it definitely happened; fail: it definitely did not happen;
 * info: its outcome is unknown ("maybe committed") or the entry is an event (fault, phase). */
export type OpType = "invoke" | "ok" | "fail" | "info";

/** What a history entry is about. */
export type OpF =
  /** An insert by the write probe through the primary service. value: the id (number). */
  | "write"
  /** A direct probe of one node, bypassing the service. value: NodeProbeValue on completion. */
  | "node-probe"
  /** A fault was injected or healed. value: FaultEventValue. */
  | "fault"
  /** The runner entered a phase. value: { phase: string }. */
  | "phase"
  /** A sample of the cluster's members (role, replication lag, timeline). value: ClusterSampleValue. */
  | "cluster"
  /** Whether the cluster was whole again after the last heal, and how long that took. value: RecoveryValue. */
  | "recovery"
  /** A full backup the nemesis took. value: the backup as the repository records it (label, LSNs, sizes, ms). */
  | "backup"
  /** Every member's data destroyed. value: { archiveEnd: the archive's last WAL segment, pitrTarget: epoch ms }. */
  | "disaster"
  /** A restore from the repository. value: RestoreValue (checkers/restore.ts). */
  | "restore";

export interface HistoryEntry {
  /** 0-based position in the history, strictly increasing. */
  index: number;
  /** Wall-clock time in milliseconds since the Unix epoch, sub-millisecond precision. */
  time: number;
  /** Who did it: "writer", "probe-n1", "nemesis", "runner". */
  process: string;
  type: OpType;
  f: OpF;
  /** Node name this entry concerns: for an ok write, the node that served it. */
  node?: string;
  value?: unknown;
  /** For an ok write: the timeline the serving node was on when it committed. */
  timeline?: number;
  /** For fail/info: what went wrong (message, SQLSTATE where there was one). */
  error?: string;
}

export type NodeProbeState = "writable" | "read-only" | "unreachable";

export interface NodeProbeValue {
  state: NodeProbeState;
  /** Timeline of the node where known (writable or read-only). */
  timeline?: number;
}

export interface FaultEventValue {
  /** Fault kind, e.g. "kill", "stop", "switchover". */
  fault: string;
  phase: "inject" | "heal";
  /** The target as the scenario wrote it ("primary", "replica", "n2"...). */
  target: string;
  /** Node names the target resolved to at inject time. */
  nodes: string[];
  /** Anything else the fault wants recorded (signal, candidate...). */
  detail?: Record<string, unknown>;
}

export interface RecoveryValue {
  recovered: boolean;
  /** From the last heal to one leader, every replica streaming and a write acknowledged. */
  recoveryMs?: number;
  /** How long the runner waited. */
  timeoutMs: number;
  /** Why it was not whole, when it was not. */
  reason?: string;
}

export interface PhaseValue {
  phase: string;
}

export interface ClusterSampleValue {
  members: Array<{
    name: string;
    /** Patroni role: "leader", "replica", "sync_standby"... */
    role: string;
    /** Bytes of WAL the member is behind the leader; undefined where Patroni reports it as unknown. */
    lagBytes?: number;
    timeline?: number;
  }>;
}
