/**
 * "Ready" for a Patroni cluster on the platforms that run etcd beside it (local, docker): one running leader, every
 * other member streaming from it on its timeline by the leader's account and by its own (pg_stat_wal_receiver), and
 * an etcd leader. One definition, so that both platforms' bring-up, heal and steady-state waits mean the same.
 */
import pg from "pg";
import type { DbCredentials, Endpoint, Member } from "./types.ts";
import { waitFor } from "../util/wait.ts";
import { replicasNotStreaming } from "../stack/postgres/walreceiver.ts";

export interface ReadyTarget {
  readonly nodes: readonly string[];
  readonly credentials: { user: string; password: string; database: string };
  members(): Promise<Member[]>;
  endpoint(node: string): Endpoint;
  /** The node whose DCS member leads; absent where the stack has no coordination service (repmgr). */
  dcsLeader?(): Promise<string | undefined>;
  /** Why a member cannot become ready without help (its pod is not running), checked while waiting for a leader. */
  blocked?(node: string): string | undefined;
  /** Why a member has not registered, for the message. */
  missing?(node: string): string;
}

/** Not exactly one running leader: which members lead (none, or several), and every member's role and state. */
export class LeaderCountError extends Error {
  override name = "LeaderCountError";
  constructor(
    readonly leaders: readonly string[],
    members: readonly Member[],
  ) {
    super(`${leaders.length} running leaders among ${members.map((m) => `${m.name}:${m.role}/${m.state}`).join(" ")}`);
  }
}

/** The one running leader among `ms`; throws a LeaderCountError when there is not exactly one. */
export function oneRunningLeader(ms: readonly Member[]): Member {
  const leaders = ms.filter((m) => m.role === "leader" && m.state === "running");
  if (leaders.length !== 1) throw new LeaderCountError(leaders.map((m) => m.name), ms);
  return leaders[0]!;
}

/**
 * Throws unless every member but the leader streams on timeline `tl`, by the HA stack's account (streaming undefined:
 * it does not say) and by the replica's own (pg_stat_wal_receiver).
 */
export async function assertReplicasStreaming(
  ms: readonly Member[],
  tl: number | undefined,
  endpoint: (node: string) => Endpoint,
  credentials: ReadyTarget["credentials"],
): Promise<void> {
  const notStreaming = ms
    .filter((m) => m.role !== "leader" && (m.streaming === false || m.state !== "running" || (tl !== undefined && m.timeline !== tl)))
    .map((m) => `${m.name}:${m.state}${m.timeline !== tl ? ` on timeline ${m.timeline}, leader on ${tl}` : ""}`);
  if (notStreaming.length > 0) throw new Error(`not streaming yet: ${notStreaming.join(", ")}`);
  // The leader's view can be stale (a silently dead replica's walsender); ask each replica itself.
  const problems = await replicasNotStreaming(ms.filter((m) => m.role !== "leader").map((m) => m.name), endpoint, credentials, tl);
  if (problems.length > 0) throw new Error(`not streaming by their own account: ${problems.join(", ")}`);
}

/**
 * Throws unless a new session through `at` (the Service clients write through) lands on `leader`, writable. `nodeOf`
 * names the member whose address PostgreSQL reports (through a port-forward: the pod that answered).
 */
export async function assertServiceReaches(
  what: string,
  at: Endpoint,
  credentials: DbCredentials,
  leader: string,
  nodeOf: (address: string) => string | undefined,
  connectTimeoutMs = 2000,
): Promise<void> {
  const client = new pg.Client({ ...at, ...credentials, connectionTimeoutMillis: connectTimeoutMs });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const row = (await client.query<{ addr: string; ro: boolean }>("SELECT host(inet_server_addr()) AS addr, pg_is_in_recovery() AS ro")).rows[0]!;
    const node = nodeOf(row.addr);
    if (row.ro || node !== leader) throw new Error(`${what} reached ${node ?? row.addr}${row.ro ? " (read-only)" : ""}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function waitPatroniReady(t: ReadyTarget, opts: { timeoutMs: number; where: string; signal?: AbortSignal }): Promise<{ ms: number; leader: string }> {
  const started = performance.now();
  const { where, signal } = opts;
  const left = () => Math.max(1000, opts.timeoutMs - (performance.now() - started));
  const leader = await waitFor({ condition: "one leader", where, timeoutMs: opts.timeoutMs, intervalMs: 50, signal }, async () => {
    for (const n of t.nodes) {
      const why = t.blocked?.(n);
      if (why) throw new Error(why);
    }
    return oneRunningLeader(await t.members()).name;
  });
  // The leader as the view that found every replica streaming sees it: right after a heal the first answer can come
  // from a member whose cache still names itself (a 4.x member then fails to update the lock).
  const leaderNow = await waitFor({ condition: `${t.nodes.length - 1} replicas streaming from ${leader} on its timeline`, where, timeoutMs: left(), intervalMs: 50, signal }, async () => {
    const ms = await t.members();
    const l = oneRunningLeader(ms);
    if (ms.length < t.nodes.length) {
      const missing = t.nodes.filter((x) => !ms.some((m) => m.name === x));
      throw new Error(`only ${ms.length} of ${t.nodes.length} members registered (${missing.map((x) => `${x}: ${t.missing?.(x) ?? "no member key"}`).join("; ")})`);
    }
    await assertReplicasStreaming(ms, l.timeline, (n) => t.endpoint(n), t.credentials);
    return l.name;
  });
  // The DCS too: right after a heal etcd may still be electing a leader (3.4 has no pre-vote), and a fault injected
  // then would meet a DCS that refuses writes.
  const dcsLeader = t.dcsLeader?.bind(t);
  if (dcsLeader) await waitFor({ condition: "an etcd leader", where, timeoutMs: left(), intervalMs: 100, signal }, async () => (await dcsLeader()) !== undefined);
  return { ms: performance.now() - started, leader: leaderNow };
}
