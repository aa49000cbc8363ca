import type { Member } from "../../platform/types.ts";
import type { AgentApi, EffectiveProfile, HaStack, StackCapability, StackInfo } from "../types.ts";
import type { HaProfile } from "../patroni/profiles.ts";
import type { LocalRun, LocalStackParts } from "../local.ts";
import { failoverBudgetSeconds, normaliseNode, pgafTimings, type PgafNodeState } from "./settings.ts";
import { PgafLocalParts } from "./local.ts";
import { errorMessage } from "../../util/errors.ts";
import { waitFor } from "../../util/wait.ts";

/** What pg_auto_failover can be asked to do: switchover and a promotion of a named node through the monitor. */
export const PGAF_CAPABILITIES: ReadonlySet<StackCapability> = new Set<StackCapability>(["dcs", "switchover", "failover"]);

export const PGAF_NAME = "pg_auto_failover";

/** Where pg_autoctl is: Debian 12's pg-auto-failover-cli and postgresql-15-auto-failover (2.0), installed by `npm run setup`. */
export const PG_AUTOCTL = "/usr/bin/pg_autoctl";

/**
 * pg_auto_failover 2.0: a monitor (a PostgreSQL of its own on a host of its own) decides every failover from health
 * checks and the keepers' reports; a keeper (`pg_autoctl run`) on each member drives its PostgreSQL. It has no HTTP
 * API: the harness asks the keepers' CLI (`pg_autoctl show state`, `perform switchover`, `perform promotion`), which
 * asks the monitor.
 */
export class PgAutoFailoverHaStack implements HaStack {
  readonly info: StackInfo;
  readonly capabilities = PGAF_CAPABILITIES;

  constructor(installed: { version: string; packageVersion?: string }) {
    this.info = {
      name: PGAF_NAME,
      kind: "pg_auto_failover",
      version: installed.version,
      package: installed.packageVersion ? { name: "pg-auto-failover-cli", version: installed.packageVersion } : undefined,
      source: "Debian 12's pg-auto-failover-cli and postgresql-15-auto-failover packages",
    };
  }

  effectiveProfile(profile: HaProfile): EffectiveProfile {
    const t = pgafTimings(profile);
    const adjustments = [
      `Patroni's ttl/loop_wait/retry_timeout do not apply: the monitor fails over after node_considered_unhealthy_timeout ${t.monitor.node_considered_unhealthy_timeout} ms and primary_demote_timeout ${t.monitor.primary_demote_timeout} ms`,
      "pg_auto_failover replicates synchronously from its second node on (number_sync_standbys, reported after bring-up); the profile's synchronous_mode is not what decides it",
    ];
    return { profile: structuredClone(profile), adjustments, timeScale: Math.max(1, failoverBudgetSeconds(t) / profile.dcs.ttl) };
  }

  local(profile: HaProfile, run: LocalRun): LocalStackParts {
    return new PgafLocalParts(this, profile, run);
  }

  /** The nodes as the monitor sees them, asked through the first keeper whose CLI reaches it. */
  async members(api: AgentApi, nodes: readonly string[]): Promise<Member[]> {
    const states = await this.state(api, nodes);
    return states.map((s) => {
      const { pgafState: _, ...m } = normaliseNode(s);
      return m;
    });
  }

  private async state(api: AgentApi, nodes: readonly string[]): Promise<PgafNodeState[]> {
    let lastError: unknown;
    for (const node of nodes) {
      try {
        const r = await api(node, { method: "EXEC", argv: [PG_AUTOCTL, "show", "state", "--json"], timeoutMs: 5000 });
        if (r.status !== 0) throw new Error(`pg_autoctl show state on ${node} exited ${r.status}`);
        return JSON.parse(r.body) as PgafNodeState[];
      } catch (e) {
        lastError = e;
      }
    }
    throw new Error(`no pg_auto_failover keeper reached the monitor: ${errorMessage(lastError ?? "none asked")}`);
  }

  private async leader(api: AgentApi, nodes: readonly string[]): Promise<string | undefined> {
    return (await this.members(api, nodes)).find((m) => m.role === "leader" && m.state === "running")?.name;
  }

  /** `pg_autoctl perform switchover` (or `perform promotion --name` for a named candidate), which waits for the new primary. */
  async switchover(api: AgentApi, nodes: readonly string[], opts: { candidate?: string; signal?: AbortSignal }): Promise<{ from: string; to?: string }> {
    const from = await this.leader(api, nodes);
    if (!from) throw new Error("switchover impossible: the monitor names no settled primary");
    const argv = opts.candidate ? [PG_AUTOCTL, "perform", "promotion", "--name", opts.candidate, "--wait", "60"] : [PG_AUTOCTL, "perform", "switchover", "--wait", "60"];
    await this.perform(api, nodes.filter((n) => n !== from).concat(from), argv, `a switchover from ${from}`, opts.signal);
    const to = await this.newLeader(api, nodes, from, opts.signal);
    return { from, to };
  }

  async failover(api: AgentApi, nodes: readonly string[], candidate: string, signal?: AbortSignal): Promise<{ from?: string; to: string }> {
    const from = await this.leader(api, nodes).catch(() => undefined);
    await this.perform(api, [candidate, ...nodes.filter((n) => n !== candidate)], [PG_AUTOCTL, "perform", "promotion", "--name", candidate, "--wait", "60"], `a promotion of ${candidate}`, signal);
    return { from, to: candidate };
  }

  /** Runs a `pg_autoctl perform` command through the first keeper that can; the monitor refuses while a node is in transition, so refusals are retried for 15 s. */
  private async perform(api: AgentApi, via: readonly string[], argv: string[], what: string, signal?: AbortSignal): Promise<void> {
    await waitFor({ condition: `pg_auto_failover to carry out ${what}`, where: `nodes ${via.join(", ")}`, timeoutMs: 15_000, intervalMs: 1000, signal }, async () => {
      const errors: string[] = [];
      for (const node of via) {
        const r = await api(node, { method: "EXEC", argv, timeoutMs: 90_000 });
        if (r.status === 0) return true;
        errors.push(`${node}: exit ${r.status}${r.body.trim() ? `: ${r.body.trim().split("\n").slice(-2).join(" ")}` : ""}`);
      }
      throw new Error(`${argv.slice(1).join(" ")} refused: ${errors.join("; ")}`);
    });
  }

  private async newLeader(api: AgentApi, nodes: readonly string[], from: string, signal?: AbortSignal): Promise<string | undefined> {
    return waitFor({ condition: `a primary other than ${from}`, where: "the monitor", timeoutMs: 30_000, intervalMs: 250, signal }, async () => {
      const l = await this.leader(api, nodes);
      if (!l || l === from) throw new Error(`the primary is ${l ?? "none"}`);
      return l;
    });
  }
}
