import pg from "pg";
import type { DbCredentials as Credentials, Endpoint } from "../../platform/types.ts";

export interface WalReceiverState {
  /** pg_stat_wal_receiver.status ("streaming", "starting", "waiting"...), or undefined when no receiver runs. */
  status?: string;
  /** Timeline the receiver streams on. */
  timeline?: number;
  /**
   * A receiver runs, but the role may not see its status (neither superuser nor pg_read_all_stats: PostgreSQL then
   * shows its pid alone); `received` says whether it has received WAL since the standby started
   * (pg_last_wal_receive_lsn, which any role may call). Its timeline is then the HA stack's account alone.
   */
  hidden?: boolean;
  received?: boolean;
}

/**
 * The WAL receiver of a standby, asked of the standby itself. Readiness needs this and not only the primary's
 * pg_stat_replication: after a replica dies silently (power loss, link down) the primary keeps reporting its old
 * walsender as "streaming" until wal_sender_timeout, while the replica, booted again, cannot stream yet (its
 * replication slot is still held by that walsender).
 */
export async function walReceiver(ep: Endpoint, credentials: Credentials, timeoutMs = 1000): Promise<WalReceiverState> {
  const client = new pg.Client({ host: ep.host, port: ep.port, ...credentials, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, application_name: "pgchaos-ready" });
  try {
    await client.connect();
    const r = await client.query<{ status: string | null; tl: number | null; pid: number | null }>("SELECT status, received_tli AS tl, pid FROM pg_stat_wal_receiver");
    const row = r.rows[0];
    if (!row) return {};
    if (row.status === null && row.pid !== null) {
      const lsn = await client.query<{ received: boolean }>("SELECT pg_last_wal_receive_lsn() IS NOT NULL AS received");
      return { hidden: true, received: lsn.rows[0]!.received };
    }
    return { status: row.status ?? undefined, timeline: row.tl ?? undefined };
  } finally {
    client.end().catch(() => undefined);
  }
}

/** Why a replica's own WAL receiver does not count as streaming on `timeline`, or undefined when it does. */
export function walReceiverProblem(w: WalReceiverState, timeline: number | undefined): string | undefined {
  if (w.hidden) return w.received ? undefined : "its WAL receiver has received nothing yet (its state is hidden from this role)";
  if (w.status === undefined) return "no WAL receiver";
  if (w.status !== "streaming") return `WAL receiver ${w.status}`;
  if (timeline !== undefined && w.timeline !== undefined && w.timeline !== timeline) return `WAL receiver on timeline ${w.timeline}, leader on ${timeline}`;
  return undefined;
}

/** For each replica that does not stream on `timeline` by its own account, "name: why". */
export async function replicasNotStreaming(
  replicas: readonly string[],
  endpointOf: (node: string) => Endpoint,
  credentials: Credentials,
  timeline: number | undefined,
): Promise<string[]> {
  const problems = await Promise.all(
    replicas.map(async (name) => {
      const problem = await walReceiver(endpointOf(name), credentials).then(
        (w) => walReceiverProblem(w, timeline),
        (e: unknown) => `not answering (${e instanceof Error ? e.message : String(e)})`,
      );
      return problem ? `${name}: ${problem}` : undefined;
    }),
  );
  return problems.filter((p): p is string => p !== undefined);
}

/**
 * Where the HA stack does not say whether a running replica streams (Patroni 3.x writes no replication_state into a
 * pod's status on Kubernetes), the replica's own account decides (pg_stat_wal_receiver); unknown when it cannot be asked.
 */
export async function streamingByOwnAccount(
  members: Array<{ name: string; role: string; state: string; streaming?: boolean }>,
  endpoint: (node: string) => Endpoint,
  credentials: Credentials,
): Promise<void> {
  await Promise.all(
    members
      .filter((m) => m.role !== "leader" && m.streaming === undefined && m.state === "running")
      .map(async (m) => {
        m.streaming = await walReceiver(endpoint(m.name), credentials).then(
          (w) => walReceiverProblem(w, undefined) === undefined,
          () => undefined,
        );
      }),
  );
}
