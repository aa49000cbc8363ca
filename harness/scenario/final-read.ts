import type { Logger } from "pino";
import type { Cluster, Member } from "../platform/types.ts";
import type { FinalMember, FinalState, IdRanges } from "../checkers/types.ts";
import { toRanges } from "../checkers/ranges.ts";
import { Session } from "../workload/session.ts";
import { waitFor } from "../util/wait.ts";
import { errorMessage } from "../util/errors.ts";

/**
 * Reads every member's copy of the write-probe table once replicas have replayed up to the leader's WAL
 * position, so that a difference is a divergence and not replication lag.
 */
export async function readFinalState(cluster: Cluster, log: Logger, catchUpTimeoutMs = 30_000, signal?: AbortSignal): Promise<FinalState> {
  let members: Member[] = [];
  try {
    members = await cluster.members();
  } catch (e) {
    log.error({ err: errorMessage(e) }, "final read: no member list");
  }
  const leader = members.find((m) => m.role === "leader");
  const session = (node: string) =>
    new Session({
      endpoint: cluster.endpoint(node),
      credentials: cluster.credentials,
      connectTimeoutMs: 2000,
      queryTimeoutMs: 10_000,
      applicationName: "pgchaos-final-read",
    });

  let leaderLsn: string | undefined;
  if (leader) {
    const s = session(leader.name);
    try {
      await s.connect();
      leaderLsn = (await s.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn", [])).rows[0]!.lsn;
    } catch (e) {
      log.error({ err: errorMessage(e), node: leader.name }, "final read: leader LSN");
    } finally {
      s.drop();
    }
  }

  const out: FinalMember[] = [];
  let probeWrites: Record<string, IdRanges> | undefined;
  for (const node of cluster.nodes) {
    const m = members.find((x) => x.name === node);
    const fm: FinalMember = { node, role: m?.role ?? "unreachable", timeline: m?.timeline };
    const s = session(node);
    try {
      await s.connect();
      if (leaderLsn && node !== leader?.name) {
        await waitFor(
          { condition: `replay up to the leader's LSN ${leaderLsn}`, where: `node ${node}`, timeoutMs: catchUpTimeoutMs, intervalMs: 100, signal },
          async () => (await s.query<{ caught: boolean }>("SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, true) AS caught", [leaderLsn])).rows[0]!.caught,
        );
      }
      const r = await s.query<{ id: string }>("SELECT id FROM pgchaos_writes ORDER BY id", []);
      fm.ids = toRanges(r.rows.map((x) => Number(x.id)));
      if (node === leader?.name) {
        // Writes the probes beside each node got acknowledged must survive too (a split-brain side's do not).
        const p = await s.query<{ node: string; seq: string }>("SELECT node, seq FROM pgchaos_node_probe ORDER BY node, seq", []);
        const byNode = new Map<string, number[]>();
        for (const row of p.rows) byNode.set(row.node, [...(byNode.get(row.node) ?? []), Number(row.seq)]);
        probeWrites = Object.fromEntries([...byNode].map(([k, v]) => [k, toRanges(v)]));
      }
      if (fm.timeline !== undefined) {
        // Two members on one timeline number with different histories have forked (the divergence check).
        const file = `pg_wal/${fm.timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
        try {
          const h = await s.query<{ h: string | null }>("SELECT pg_read_file($1, 0, 1048576, true) AS h", [file]);
          fm.timelineHistory = h.rows[0]!.h ?? "";
        } catch (e) {
          // A role that may not read server files (an operator's application user, attached to): the divergence
          // check then compares this member by its writes alone.
          if ((e as { code?: string }).code !== "42501") throw e;
          log.warn({ node, user: cluster.credentials.user }, "final read: may not read the timeline history (pg_read_server_files)");
        }
      }
    } catch (e) {
      fm.error = errorMessage(e);
      log.error({ err: fm.error, node }, "final read failed");
    } finally {
      s.drop();
    }
    out.push(fm);
  }
  return { leader: leader?.name, members: out, leaderProbeWrites: probeWrites, time: Date.now() };
}
