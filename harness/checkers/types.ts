import type { HistoryEntry } from "../history/types.ts";

/** Three-way validity, ranked false > "unknown" > true when combined (DESIGN.md, idea 4). */
export type Validity = true | false | "unknown";

/** Inclusive integer ranges [from, to], ascending and non-overlapping: a compact set of probe ids. */
export type IdRanges = Array<[number, number]>;

/** What one member held when the run ended, read directly from it after the cluster recovered. */
export interface FinalMember {
  node: string;
  /** Patroni role at read time: "leader" | "replica" | "sync_standby" | ... or "unreachable". */
  role: string;
  /** Timeline the member was on; undefined when it could not be read. */
  timeline?: number;
  /** Ids of the write probe table on this member; undefined when it could not be read. */
  ids?: IdRanges;
  /** Why the member could not be read, if it could not. */
  error?: string;
  /** Content of the member's current timeline's .history file ("" on timeline 1); undefined when not
   * read. Two members on the same timeline number with different histories are on a forked timeline. */
  timelineHistory?: string;
}

/** The final cluster contents, stored as final.json in the run directory. */
export interface FinalState {
  /** Name of the leader the final reads were made against; undefined if there was none. */
  leader?: string;
  members: FinalMember[];
  /**
   * The final leader's copy of the node probes' writes, per node: the sequence numbers each node's
   * probe wrote directly to it. Absent in runs recorded before it was read.
   */
  leaderProbeWrites?: Record<string, IdRanges>;
  /** Time (epoch ms) the final state was read. */
  time: number;
}

/** What a scenario promises; each checker looks only at its own fields. */
export interface Expectations {
  /** Upper bound on client-visible write unavailability around the fault. */
  maxWriteUnavailableMs?: number;
  /** Maximum number of acknowledged writes that may be lost (usually 0). */
  lostWrites?: number;
  /** Whether divergence between members is expected (false: it fails the verdict). */
  divergence?: boolean;
  /** Whether two nodes accepting writes at once is expected (a scenario demonstrating it); otherwise a
   * split-brain window fails the verdict. */
  splitBrain?: boolean;
  /** After a restore from backups: the most time of acknowledged writes the restore may lose (the recovery point). */
  maxRecoveryPointMs?: number;
  /** The replication lag bound (bytes) the profile promises: Patroni's maximum_lag_on_failover. */
  maximumLagOnFailover?: number;
}

export interface CheckInput {
  history: readonly HistoryEntry[];
  final: FinalState;
  expect: Expectations;
}

export interface CheckResult {
  valid: Validity;
  /** Human-readable reasons, one per finding; required when valid is not true. */
  reasons?: string[];
  /** Set when the checker threw: the run is not failed, the check is "unknown". */
  error?: string;
  [figure: string]: unknown;
}

export type Checker = (input: CheckInput) => CheckResult;
