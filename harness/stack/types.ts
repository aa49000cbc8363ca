import type { HaProfile } from "./patroni/profiles.ts";
import type { Member } from "../platform/types.ts";
import type { LocalRun, LocalStackParts } from "./local.ts";

/**
 * What an HA stack can be asked to do, beside what every stack does (members, a primary to write to). A
 * scenario whose faults need one the stack lacks is refused before anything is deployed.
 */
export type StackCapability =
  /** Its coordination service runs as members on the nodes (etcd beside Patroni), so they can be killed or paused. */
  | "dcs-members"
  /** A planned switchover through the stack's own API. */
  | "switchover"
  /** A manual failover to a named replica through the stack's own API. */
  | "failover"
  /** Its HA agent and PostgreSQL are separate processes that can be killed or paused apart. */
  | "agent-process"
  /** Backups with WAL archiving, and a bootstrap that restores a lost cluster from them (Patroni with pgBackRest). */
  | "backup"
  /** A coordination service at all (etcd beside Patroni, pg_auto_failover's monitor), which can be lost as a whole. */
  | "dcs";

/** What a run reports about the stack it ran, in scenario.json, verdict.json and every report. */
export interface StackInfo {
  /** What a user types: `patroni@4.0.7`. */
  name: string;
  /** The HA software: "patroni". */
  kind: string;
  /** Its upstream version, as it printed it. */
  version: string;
  /** The package it came from: Debian package version and the .deb's SHA-256. */
  package?: { name: string; version: string; sha256?: string };
  /** Where it ran from, in words. */
  source: string;
}

/** A request to a member's HA agent over HTTP (Patroni's REST API), however the platform reaches it. */
export interface HttpAgentRequest {
  method: "GET" | "POST" | "PATCH";
  path: string;
  body?: unknown;
  timeoutMs?: number;
}

/**
 * A command of the HA agent's own CLI run on the member, as the agent's user (`pg_autoctl show state --json`):
 * stacks without an HTTP API (pg_auto_failover, repmgr) are driven this way. `status` is its exit code, `body` its
 * standard output.
 */
export interface ExecAgentRequest {
  method: "EXEC";
  argv: string[];
  timeoutMs?: number;
}

export type AgentRequest = HttpAgentRequest | ExecAgentRequest;

/** The platform's way to a member's agent: HTTP to its address here, `kubectl exec` on Kubernetes, or its CLI. */
export type AgentApi = (node: string, req: AgentRequest) => Promise<{ status: number; body: string }>;

/** The profile as a stack runs it: what it changed of the profile asked for, and why, for the report. */
export interface EffectiveProfile {
  profile: HaProfile;
  adjustments: string[];
  /**
   * Effective ttl over the profile's: scenario holds and bounds written for a profile's ttl stretch by it
   * (a primary must stay down longer than the ttl the stack really runs).
   */
  timeScale: number;
}

/**
 * What runs on the machines (DESIGN.md, "Stack and platform are two axes"): members with normalised roles,
 * switchover and failover, profile rules, over the platform's AgentApi. Bring-up and processes stay with the
 * platform, which asks the stack for its configuration.
 */
export interface HaStack {
  readonly info: StackInfo;
  readonly capabilities: ReadonlySet<StackCapability>;
  /** What the stack does not do by itself to become whole again after a failover, said with a recovery that failed. */
  readonly recoveryNote?: string;
  effectiveProfile(profile: HaProfile): EffectiveProfile;
  /** Members from the first node that answers; roles normalised: "leader", "replica", "sync_standby"... */
  members(api: AgentApi, nodes: readonly string[]): Promise<Member[]>;
  switchover(api: AgentApi, nodes: readonly string[], opts: { candidate?: string; signal?: AbortSignal }): Promise<{ from: string; to?: string }>;
  failover(api: AgentApi, nodes: readonly string[], candidate: string, signal?: AbortSignal): Promise<{ from?: string; to: string }>;
  /** What it runs on the local platform's nodes (a stack's folder gives this; see stack/local.ts). */
  local(profile: HaProfile, run: LocalRun): LocalStackParts;
}
