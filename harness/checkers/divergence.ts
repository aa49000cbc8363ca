import { finalLeader } from "./final.ts";
import { describeIds, fromRanges } from "./ranges.ts";
import type { Checker, CheckResult, Validity } from "./types.ts";
import { classifyWrites } from "./writes.ts";

const SHOWN_IDS = 50;

interface MemberFigures {
  node: string;
  role: string;
  timeline?: number;
  sameTimeline?: boolean;
  extra?: number;
  missing?: number;
  missingAcknowledged?: number;
  extraIds?: number[];
  missingIds?: number[];
  error?: string;
}

/**
 * Every member must hold exactly the leader's rows on the leader's timeline once the cluster recovered.
 * expect.divergence === true (a scenario that demonstrates divergence) reports it without failing.
 */
export const divergence: Checker = ({ history, final, expect }) => {
  const found = finalLeader(final);
  if ("reason" in found) return { valid: "unknown", reasons: [`${found.reason}: nothing to compare members with`] };
  const leader = found.leader;
  const leaderList = fromRanges(leader.ids);
  const leaderIds = new Set(leaderList);
  const acknowledged = classifyWrites(history).acknowledged;

  const members: MemberFigures[] = [];
  const diverged: string[] = [];
  const unreadable: string[] = [];
  for (const m of final.members) {
    if (m.node === leader.node) continue;
    if (m.ids === undefined) {
      members.push({ node: m.node, role: m.role, timeline: m.timeline, error: m.error });
      unreadable.push(`member ${m.node} (${m.role}) could not be read${m.error ? `: ${m.error}` : ""}`);
      continue;
    }
    const ids = fromRanges(m.ids);
    const memberIds = new Set(ids);
    const extraIds = ids.filter((id) => !leaderIds.has(id));
    const missingIds = leaderList.filter((id) => !memberIds.has(id));
    const missingAck = missingIds.filter((id) => acknowledged.has(id));
    const timelineKnown = m.timeline !== undefined && leader.timeline !== undefined;
    const sameTimeline = timelineKnown ? m.timeline === leader.timeline : undefined;
    members.push({
      node: m.node,
      role: m.role,
      timeline: m.timeline,
      sameTimeline,
      extra: extraIds.length,
      missing: missingIds.length,
      missingAcknowledged: missingAck.length,
      extraIds: extraIds.slice(0, SHOWN_IDS),
      missingIds: missingIds.slice(0, SHOWN_IDS),
    });
    const who = `member ${m.node} (${m.role})`;
    if (extraIds.length > 0) {
      diverged.push(`${who} has ${extraIds.length} rows the leader ${leader.node} lacks: ${describeIds(extraIds)}`);
    }
    if (missingIds.length > 0) {
      diverged.push(
        `${who} lacks ${missingIds.length} rows the leader ${leader.node} has (${missingAck.length} acknowledged): ${describeIds(missingIds)}`,
      );
    }
    if (sameTimeline === false) {
      diverged.push(`${who} is on timeline ${m.timeline}, the leader ${leader.node} on timeline ${leader.timeline}`);
    } else if (!timelineKnown) {
      unreadable.push(`timeline of ${m.timeline === undefined ? who : `leader ${leader.node}`} is unknown`);
    }
  }

  const divergenceExpected = expect.divergence === true;
  let valid: Validity = true;
  if (diverged.length > 0 && !divergenceExpected) valid = false;
  else if (unreadable.length > 0) valid = "unknown";
  const reasons = [...diverged, ...unreadable];
  const result: CheckResult = { valid, leader: leader.node, leaderTimeline: leader.timeline, members };
  if (reasons.length > 0) result.reasons = reasons;
  if (divergenceExpected) result.divergenceExpected = true;
  return result;
};
