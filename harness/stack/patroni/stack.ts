import type { Endpoint, Member } from "../../platform/types.ts";
import { assertTimingsRestored, settingsInEffect } from "./settings.ts";
import type { AgentApi, EffectiveProfile, HaStack, StackCapability, StackInfo } from "../types.ts";
import type { LocalRun, LocalStackParts } from "../local.ts";
import { PatroniLocalParts } from "./local.ts";
import type { HaProfile } from "./profiles.ts";
import { effectiveTimings, type PatroniVersion } from "./versions.ts";
import type { EnsuredPatroni } from "./install.ts";
import { BRING_UP, profileRestore } from "./config.ts";
import { waitFor } from "../../util/wait.ts";
import { AbortError } from "p-retry";
import { errorMessage, UsageError } from "../../util/errors.ts";

interface ClusterMemberJson {
  name: string;
  role: string;
  state: string;
  host: string;
  timeline?: number;
  lag?: number | string;
}

interface StatusJson {
  replication?: Array<{ application_name: string; state: string }>;
}

/** What Patroni with etcd can be asked to do, whatever its version. */
export const PATRONI_CAPABILITIES: ReadonlySet<StackCapability> = new Set<StackCapability>(["dcs", "dcs-members", "switchover", "failover", "agent-process", "backup"]);

/**
 * Patroni of one version (versions.ts), installed here (install.ts) and, on the container platforms, copied into the
 * member image (platform/image.ts): the HaStack every platform runs it through.
 */
export class PatroniHaStack implements HaStack {
  readonly info: StackInfo;
  readonly capabilities = PATRONI_CAPABILITIES;

  constructor(
    readonly version: PatroniVersion,
    readonly installed: Pick<EnsuredPatroni, "bin" | "patronictl" | "version" | "sha256" | "source">,
  ) {
    this.info = {
      name: version.name,
      kind: "patroni",
      version: installed.version,
      package: { name: version.debian.package, version: version.debian.version, sha256: installed.sha256 ?? version.debian.sha256 },
      source: installed.source,
    };
  }

  /** The ttl, loop_wait and retry_timeout this version really runs for `profile`, and what it changed. */
  effectiveProfile(profile: HaProfile): EffectiveProfile {
    const asked = { ttl: profile.dcs.ttl, loop_wait: profile.dcs.loop_wait, retry_timeout: profile.dcs.retry_timeout };
    const got = effectiveTimings(this.version.rules, asked);
    const adjustments = (Object.keys(asked) as Array<keyof typeof asked>)
      .filter((k) => asked[k] !== got[k])
      .map((k) => `${k} ${asked[k]} → ${got[k]}: Patroni ${this.info.version} ${this.ruleText(k)}`);
    const effective = structuredClone(profile);
    Object.assign(effective.dcs, got);
    return { profile: effective, adjustments, timeScale: got.ttl / asked.ttl };
  }

  private ruleText(k: "ttl" | "loop_wait" | "retry_timeout"): string {
    const min = this.version.rules.minimum[k];
    const rule = this.version.rules.enforcesTimeoutRule ? "; it keeps loop_wait + 2 × retry_timeout ≤ ttl" : "";
    return `${min !== null ? `raises ${k} below ${min} to ${min}` : "adjusts it"}${rule}`;
  }

  local(profile: HaProfile, run: LocalRun): LocalStackParts {
    return new PatroniLocalParts(this, profile, run);
  }

  /** Bring-up's loop timings (config.ts BRING_UP) as this version runs them. */
  bringUpTimings(): typeof BRING_UP.dcs {
    return effectiveTimings(this.version.rules, BRING_UP.dcs) as typeof BRING_UP.dcs;
  }

  /** The PATCH /config body that puts back the profile's values of what bring-up overrode. */
  profileRestore(profile: HaProfile): Record<string, unknown> {
    return profileRestore(this.effectiveProfile(profile).profile);
  }

  /**
   * Replaces the bring-up settings with the profile's (PATCH /config through `leader`) and waits until every
   * member's PostgreSQL runs with them: Patroni reloads parameters in the same loop in which it takes the new
   * ttl and loop_wait. Then checks the DCS carries the profile's timings.
   */
  async applyProfile(
    api: AgentApi,
    leader: string,
    profile: HaProfile,
    members: ReadonlyArray<{ name: string; endpoint: Endpoint }>,
    credentials: { user: string; password: string; database: string },
    opts: { timeoutMs: number; intervalMs: number; signal?: AbortSignal },
  ): Promise<Record<string, unknown>> {
    const restore = this.profileRestore(profile);
    const r = await api(leader, { method: "PATCH", path: "/config", body: restore, timeoutMs: 5000 });
    if (r.status !== 200) throw new Error(`PATCH /config on ${leader} refused: HTTP ${r.status}: ${r.body.trim()}`);
    const params = (restore.postgresql as { parameters: Record<string, string | null> }).parameters;
    // Every member at once: each reloads in its own HA loop.
    await Promise.all(
      members.map((m) => waitFor({ condition: `the profile's settings ${JSON.stringify(params)} in effect`, where: `member ${m.name}`, ...opts }, () => settingsInEffect(m.endpoint, credentials, params))),
    );
    const cfg = await api(leader, { method: "GET", path: "/config" });
    if (cfg.status !== 200) throw new Error(`GET /config on ${leader}: HTTP ${cfg.status}: ${cfg.body.trim()}`);
    assertTimingsRestored(JSON.parse(cfg.body) as Record<string, unknown>, restore);
    return restore;
  }

  async members(api: AgentApi, nodes: readonly string[]): Promise<Member[]> {
    let lastError: unknown;
    for (const node of nodes) {
      try {
        const r = await api(node, { method: "GET", path: "/cluster" });
        if (r.status !== 200) throw new Error(`GET /cluster on ${node}: HTTP ${r.status}`);
        const list = ((JSON.parse(r.body) as { members?: ClusterMemberJson[] }).members ?? []).map(normaliseMember);
        const leader = list.find((m) => m.role === "leader");
        if (leader && list.some((m) => m.streaming === undefined && m.role !== "leader")) {
          // Patroni before 3.0.4 never says "streaming" in /cluster: the leader's replication list does.
          const st = await api(leader.name, { method: "GET", path: "/patroni" }).then((x) => JSON.parse(x.body) as StatusJson, () => undefined);
          const streaming = new Set((st?.replication ?? []).filter((x) => x.state === "streaming").map((x) => x.application_name));
          for (const m of list) if (m.role !== "leader" && m.streaming === undefined) m.streaming = streaming.has(m.name);
        }
        return list;
      } catch (e) {
        lastError = e;
      }
    }
    throw new Error(`no Patroni member answered GET /cluster: ${errorMessage(lastError ?? "none asked")}`);
  }

  async switchover(api: AgentApi, nodes: readonly string[], opts: { candidate?: string; signal?: AbortSignal }): Promise<{ from: string; to?: string }> {
    const leader = (await this.members(api, nodes)).find((m) => m.role === "leader");
    if (!leader) throw new Error("switchover impossible: the cluster has no leader");
    const body = { leader: leader.name, ...(opts.candidate ? { candidate: opts.candidate } : {}) };
    const text = await this.askUntilAccepted(api, leader.name, "/switchover", body, `a switchover from ${leader.name}`, opts.signal);
    return { from: leader.name, to: movedTo(text) };
  }

  async failover(api: AgentApi, nodes: readonly string[], candidate: string, signal?: AbortSignal): Promise<{ from?: string; to: string }> {
    const leader = (await this.members(api, nodes)).find((m) => m.role === "leader");
    // Asked of the leader when there is one (the candidate's own API may be the one not answering). Patroni
    // 3.2+ turns a failover request that names the leader into a switchover: name it only before that.
    const via = leader?.name ?? candidate;
    const body = { candidate, ...(leader && !this.version.rules.failoverNamingLeaderIsSwitchover ? { leader: leader.name } : {}) };
    const text = await this.askUntilAccepted(api, via, "/failover", body, `a failover to ${candidate}`, signal);
    return { from: leader?.name, to: movedTo(text) ?? candidate };
  }

  /**
   * Patroni judges a switchover or failover from its last loop's view: right after the cluster became whole
   * it can answer 412 "no good candidates" or 503 for a few seconds. Those answers are retried for 15 s.
   */
  private async askUntilAccepted(api: AgentApi, node: string, path: string, body: unknown, what: string, signal?: AbortSignal): Promise<string> {
    let text = "";
    await waitFor({ condition: `Patroni to accept ${what}`, where: `node ${node}`, timeoutMs: 15_000, intervalMs: 1000, signal }, async () => {
      const r = await api(node, { method: "POST", path, body, timeoutMs: 30_000 });
      text = r.body.trim();
      if (r.status === 200) return true;
      const e = new Error(`POST ${path} via ${node} refused: HTTP ${r.status}: ${text}`);
      if (r.status === 412 || r.status === 503) throw e;
      throw new AbortError(e);
    });
    return text;
  }
}

/** Patroni's answer to a switchover or failover: `Successfully switched over to "n2"`, `failed over to`, `Switched over to "n2" instead of "n3"`. */
export function movedTo(text: string): string | undefined {
  return /(?:switched|failed) over to "?([\w-]+)"?/i.exec(text)?.[1];
}

/**
 * One member of GET /cluster with Patroni's versions told apart: 3.0.4+ reports a replica's replication
 * state ("streaming", "in archive recovery") where 3.0.2 said "running".
 */
export function normaliseMember(m: ClusterMemberJson): Member {
  const replicationState = m.state === "streaming" || m.state === "in archive recovery";
  return {
    name: m.name,
    host: m.host,
    role: m.role === "master" || m.role === "primary" ? "leader" : m.role,
    state: replicationState ? "running" : m.state,
    timeline: m.timeline,
    lagBytes: typeof m.lag === "number" ? m.lag : undefined,
    streaming: m.role === "leader" ? undefined : replicationState ? m.state === "streaming" : undefined,
  };
}

/**
 * The run's stack where a platform runs Patroni alone (its member image carries Patroni): undefined stays undefined
 * (Debian 12's), any other stack is refused. The runner refuses such a run before this is reached.
 */
export function patroniOnly(stack: HaStack | undefined, platform: string): PatroniHaStack | undefined {
  if (stack === undefined || stack instanceof PatroniHaStack) return stack;
  throw new UsageError(`the ${platform} platform runs Patroni stacks only; ${stack.info.name} runs on the local platform (--platform local)`);
}
