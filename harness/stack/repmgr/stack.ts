import type { Member } from "../../platform/types.ts";
import type { AgentApi, EffectiveProfile, HaStack, StackCapability, StackInfo } from "../types.ts";
import type { HaProfile } from "../patroni/profiles.ts";
import type { LocalRun, LocalStackParts } from "../local.ts";
import { detectionSeconds, parseClusterCsv, repmgrTimings } from "./settings.ts";
import { RepmgrLocalParts } from "./local.ts";
import { errorMessage } from "../../util/errors.ts";

/**
 * What repmgr can be asked to do here: nothing beyond what every stack does. Its switchover (`repmgr standby
 * switchover`) logs into the primary over ssh, which this harness does not give the nodes: switchover, drain and
 * rolling restart are refused before deploy, with that reason.
 */
export const REPMGR_CAPABILITIES: ReadonlySet<StackCapability> = new Set<StackCapability>();

export const REPMGR_NAME = "repmgr";

/** Why repmgr takes no switchover here (capabilities, and the error should one be asked for anyway). */
export const REPMGR_NO_SWITCHOVER = "repmgr's switchover logs into the primary over ssh, which the harness does not give the nodes";

/** repmgr's programs as Debian 12's postgresql-15-repmgr installs them (5.3). */
export const REPMGR_BIN = "/usr/lib/postgresql/15/bin/repmgr";

/**
 * repmgr 5.3 with repmgrd: no consensus and no fencing. Each standby's repmgrd watches the primary and, once it
 * stopped answering, the standbys elect one among those that still see each other, which promotes itself; the others
 * follow it. An old primary that comes back is a primary still: rejoining it is a person's job
 * (`repmgr node rejoin --force-rewind`), so after a failover the cluster stays split until someone does.
 */
export class RepmgrHaStack implements HaStack {
  readonly info: StackInfo;
  readonly capabilities = REPMGR_CAPABILITIES;
  readonly recoveryNote =
    "repmgr does not rejoin an old primary by itself: it comes back a primary beside the new one, until someone runs repmgr node rejoin --force-rewind on it";

  constructor(installed: { version: string; packageVersion?: string }) {
    this.info = {
      name: REPMGR_NAME,
      kind: "repmgr",
      version: installed.version,
      package: installed.packageVersion ? { name: "postgresql-15-repmgr", version: installed.packageVersion } : undefined,
      source: "Debian 12's postgresql-15-repmgr package",
    };
  }

  effectiveProfile(profile: HaProfile): EffectiveProfile {
    const t = repmgrTimings(profile);
    return {
      profile: structuredClone(profile),
      adjustments: [
        `Patroni's ttl/loop_wait/retry_timeout do not apply: repmgrd checks the primary every ${t.monitor_interval_secs} s and gives up on it after ${t.reconnect_attempts} reconnect attempts ${t.reconnect_interval} s apart`,
        "repmgr replicates asynchronously here (no synchronous_standby_names): the profile's synchronous_mode is not applied",
      ],
      timeScale: Math.max(1, detectionSeconds(t) / profile.dcs.ttl),
    };
  }

  local(profile: HaProfile, run: LocalRun): LocalStackParts {
    return new RepmgrLocalParts(this, profile, run);
  }

  /**
   * The members as repmgr sees them from the first node that answers (`repmgr cluster show --csv`): which it reaches,
   * and which of those runs as a primary (not in recovery). Streaming is the replica's own account (the readiness
   * check asks it), so it is left undefined here.
   */
  async members(api: AgentApi, nodes: readonly string[]): Promise<Member[]> {
    const ids = new Map(nodes.map((n) => [nodeId(n), n]));
    let lastError: unknown;
    for (const node of nodes) {
      try {
        const r = await api(node, { method: "EXEC", argv: [REPMGR_BIN, "cluster", "show", "--csv"], timeoutMs: 10_000 });
        // repmgr exits 25 (ERR_NODE_STATUS) when some node is unreachable; the CSV is still whole.
        if (r.status !== 0 && r.status !== 25) throw new Error(`repmgr cluster show on ${node} exited ${r.status}: ${r.body.trim().split("\n").slice(-2).join(" ")}`);
        const all = new Map([...ids, ...allIds(r.body)]);
        const seen = parseClusterCsv(r.body.split("\n").filter((l) => /^\s*\d+,/.test(l)).join("\n"), all);
        return await Promise.all(
          seen.map(async (m): Promise<Member> => {
            const own = m.running && nodes.includes(m.name) ? await ownAccount(api, m.name) : undefined;
            return {
              name: m.name,
              host: m.name,
              role: m.primary ? "leader" : "replica",
              state: m.running ? "running" : "unreachable",
              timeline: own?.timeline,
              streaming: m.primary ? undefined : own ? own.streaming : false,
            };
          }),
        );
      } catch (e) {
        lastError = e;
      }
    }
    throw new Error(`no repmgr node answered: ${errorMessage(lastError ?? "none asked")}`);
  }

  async switchover(): Promise<{ from: string; to?: string }> {
    throw new Error(`repmgr: ${REPMGR_NO_SWITCHOVER}`);
  }

  async failover(): Promise<{ from?: string; to: string }> {
    throw new Error("repmgr: a manual failover (repmgr standby promote) beside a live primary would make two primaries; it is not offered");
  }
}

/** The SQL that asks a member for its timeline and whether its WAL receiver streams (a primary's timeline from its WAL file name). */
export const OWN_ACCOUNT_SQL = `SELECT CASE WHEN pg_is_in_recovery() THEN (SELECT received_tli FROM pg_stat_wal_receiver)
  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
  coalesce((SELECT status FROM pg_stat_wal_receiver), '')`;

/**
 * A member's timeline and replication by its own account (repmgr's cluster view says neither), asked over its socket
 * as the node's own user.
 */
async function ownAccount(api: AgentApi, node: string): Promise<{ timeline?: number; streaming: boolean } | undefined> {
  const r = await api(node, { method: "EXEC", argv: ["psql", "-X", "-At", "-F", ",", "-d", "postgres", "-c", OWN_ACCOUNT_SQL], timeoutMs: 5000 }).catch(() => undefined);
  if (!r || r.status !== 0) return undefined;
  const [tl, status] = r.body.trim().split(",");
  return { timeline: tl ? Number(tl) : undefined, streaming: status === "streaming" };
}

/** repmgr's node_id of a member: its number (n2 → 2). */
export function nodeId(name: string): number {
  const m = /(\d+)$/.exec(name);
  if (!m) throw new Error(`member name ${name} carries no number for repmgr's node_id`);
  return Number(m[1]);
}

/** Ids in the CSV that the run's nodes do not name get a name of their own form, so nothing is dropped silently. */
function allIds(csv: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const l of csv.split("\n")) {
    const id = Number(l.split(",")[0]);
    if (Number.isInteger(id) && id > 0) out.set(id, `n${id}`);
  }
  return out;
}
