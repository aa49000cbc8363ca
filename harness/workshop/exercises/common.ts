import type { CheckContext, MemberView, Range, Snapshot, Verdict } from "../types.ts";

export const pass = (detail?: string): Verdict => ({ ok: true, detail });
export const fail = (reason: string): Verdict => ({ ok: false, reason });

/** The first replica by name, as the member an exercise hands the primary role to. */
export function aReplica(s: Snapshot): string | undefined {
  return s.members.filter((m) => m.name !== s.leader && m.role !== "down").map((m) => m.name).sort()[0];
}

/**
 * Whole as a learner should see it before moving on: one running leader, and every member that has a
 * configuration running as a replica that streams from it on its timeline. undefined when whole, else why not.
 */
export function notWhole(s: Snapshot): string | undefined {
  const leaders = s.members.filter((m) => m.role === "leader" && m.state === "running");
  if (leaders.length !== 1) return `the cluster has ${leaders.length} running leaders (${s.members.map((m) => `${m.name}: ${m.role}/${m.state}`).join(", ")})`;
  const leader = leaders[0]!;
  for (const m of s.members.filter((x) => x.configPresent && x.name !== leader.name)) {
    if (!m.patroniUp) return `${m.name}'s Patroni is not running (\`ws start ${m.name}\` starts it)`;
    if (m.state !== "running") return `${m.name} is ${m.state}, not running yet`;
    if (!m.streaming) return `${m.name} does not stream from ${leader.name} yet`;
    if (m.timeline !== leader.timeline) return `${m.name} is on timeline ${m.timeline}, the leader on ${leader.timeline}`;
  }
  return undefined;
}

/** A fault of the workshop hit a member during the exercise (`ws kill primary` and the like). */
export function faulted(ctx: CheckContext, kind: string): { nodes: string[]; healed: boolean } | undefined {
  let found: { nodes: string[]; healed: boolean } | undefined;
  for (const e of ctx.history()) {
    if (e.f !== "fault") continue;
    const v = e.value as { fault: string; phase: string; nodes: string[] };
    if (v.fault !== kind) continue;
    if (v.phase === "inject") found = { nodes: v.nodes, healed: false };
    else if (found) found.healed = true;
  }
  return found;
}

export function replicaAgain(s: Snapshot, node: string): string | undefined {
  const m: MemberView | undefined = s.members.find((x) => x.name === node);
  if (!m?.patroniUp) return `${node}'s Patroni is not running`;
  if (m.role === "leader") return `${node} is the leader`;
  if (m.state !== "running" || !m.streaming) return `${node} has not come back as a streaming replica yet (${m.role}/${m.state})`;
  if (m.timeline !== s.timeline) return `${node} is on timeline ${m.timeline}, the leader on ${s.timeline}`;
  return undefined;
}

/** A failover takes the ttl, a loop and the leader race; the profile's ttl scales it. */
export const failoverRange = (ttl: number): Range => ({
  min: ttl * 0.3,
  max: ttl * 3 + 5,
  why: `with ttl ${ttl} s a failover takes about the ttl: the replicas wait for the leader key to expire, then race for it`,
});

export const NO_LOSS: Range = { min: 0, max: 0, why: "a planned handover or a crash with the replicas caught up loses no acknowledged write" };
