import type { HistoryEntry, NodeProbeState } from "../history/types.ts";
import type { Member } from "../platform/types.ts";

/** A member as the workshop shows it: what Patroni says, plus what the machine knows of its processes. */
export interface MemberView {
  name: string;
  address: string;
  /** Patroni's role ("leader", "replica", "sync_standby"...), or "down" when its agent does not answer. */
  role: string;
  /** Patroni's state ("running", "starting", "stopped"...), or "down". */
  state: string;
  timeline?: number;
  lagBytes?: number;
  streaming?: boolean;
  /** Patroni reports a setting that waits for a restart. */
  pendingRestart?: boolean;
  /** The member's pod (its namespace's init) runs. */
  podRunning: boolean;
  /** A Patroni process runs in it. */
  patroniUp: boolean;
  /** A postmaster runs in it. */
  postgresUp: boolean;
  /** Its patroni.yml exists (the scale exercise starts without n3's). */
  configPresent: boolean;
  /** What the in-namespace probe saw last. */
  probe?: { state: NodeProbeState; timeline?: number; at: number };
  /** A fault of the workshop acts on it now. */
  fault?: string;
}

export interface LeaderKey {
  /** Who holds /service/<scope>/leader, or undefined when no key exists (it expired, or was released). */
  holder?: string;
  /** Seconds left on its lease, as etcd says it. */
  ttl?: number;
  /** The lease's ttl when granted. */
  grantedTtl?: number;
}

export interface WorkshopEvent {
  time: number;
  node?: string;
  /** "lock-expired", "leader-race", "promotion", "demotion", "rewind", "follow", "start", "stop", "fault", "heal", "check"... */
  kind: string;
  text: string;
}

/** The cluster as the page shows it and checks judge it. Plain data: sent to the page as JSON. */
export interface Snapshot {
  time: number;
  scope: string;
  ttl: number;
  members: MemberView[];
  leader?: string;
  timeline?: number;
  leaderKey?: LeaderKey;
  writes: { ok: number; fail: number; unknown: number; lastOkAt?: number; lastFailAt?: number; unavailableMs?: number };
  faults: Array<{ id: number; kind: string; nodes: string[]; since: number; healAt?: number }>;
}

/** What was true when the exercise started; checks compare against it. */
export interface Baseline {
  at: number;
  /** Index of the first history entry of the exercise. */
  historyIndex: number;
  leader?: string;
  timeline?: number;
  /** A member the exercise picked (a switchover's candidate), where it picks one. */
  target?: string;
  /** postmaster start time of each member, as Patroni reports it. */
  postmasterStart: Record<string, string | undefined>;
}

/** Figures measured over the exercise so far, by the same checkers as a scenario's verdict. */
export interface Figures {
  /** Longest time writes through the primary service went unacknowledged around the exercise's first fault. */
  writesUnavailableS?: number;
  /** Time from the fault until the new primary took its first write. */
  newPrimaryS?: number;
  /** Total time two members accepted writes at once. */
  splitBrainS?: number;
  /** Writes acknowledged through the primary service during the exercise and missing on the leader now. */
  lostWrites?: number;
  /** Writes a member acknowledged to the probe beside it and missing on the leader now. */
  lostDirectWrites?: number;
}

export type Verdict = { ok: true; detail?: string } | { ok: false; reason: string };

export interface CheckContext {
  snapshot: Snapshot;
  baseline: Baseline;
  /** What the learner answered with `ws answer KEY VALUE`. */
  answers: Record<string, string>;
  /** What the learner predicted with `ws predict SECONDS`. */
  prediction?: number;
  /** One query against a member, as the superuser; throws when the member does not answer. */
  sql<T extends Record<string, unknown>>(node: string, query: string): Promise<T[]>;
  /** Patroni's GET /patroni of a member. */
  patroni(node: string): Promise<Record<string, unknown>>;
  /** History entries since the exercise started. */
  history(): readonly HistoryEntry[];
  figures(): Promise<Figures>;
}

export interface Range {
  min: number;
  max: number;
  /** Why the range is what it is, printed when a number falls outside it. */
  why: string;
}

/** Where an exercise starts: a whole 3-member cluster unless it says otherwise. */
export interface StartState {
  /** 2: n3 has no patroni.yml and no data (the scale exercise). */
  members?: 2 | 3;
  /** Patroni synchronous_mode. */
  sync?: boolean;
}

/**
 * One hands-on exercise, as data. Lines of `text` that start with `$ ` are commands a learner types in a member's
 * shell (`ws shell`); `solution` is what `ws skip` runs. Tests run every one of them: a typo cannot ship.
 * `{leader}`, `{target}` and `{scope}` in both are replaced with the exercise's values.
 */
export interface Exercise {
  id: string;
  title: string;
  /** The workshop outline's topic. */
  topic: string;
  start: StartState;
  text: string;
  hints: string[];
  /** Commands, run one after the other in n1's shell; each must exit 0. */
  solution: string[];
  /** What the check says before the learner did anything (the solver asserts it). */
  firstReason: RegExp;
  /** Picks what the exercise is about (a target member) when it starts. */
  prepare?(s: Snapshot): Partial<Baseline>;
  verify(ctx: CheckContext): Promise<Verdict>;
  /** Figures the exercise reports, and the range each should fall in. */
  ranges?: (ttl: number) => Partial<Record<keyof Figures, Range>>;
  /** How long the check may take to pass once the solution ran (a failover takes a ttl and more). */
  settleS: number;
}

export const member = (members: readonly MemberView[] | readonly Member[], name: string | undefined) => members.find((m) => m.name === name);
