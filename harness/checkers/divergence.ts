import { finalLeader } from "./final.ts";
import { describeIds, fromRanges } from "./ranges.ts";
import type { Checker, CheckResult, FinalMember, Validity } from "./types.ts";
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

export interface TimelineFork {
  timeline: number;
  /** One entry per distinct history (normalized: blank lines dropped, whitespace runs collapsed), members
   * in final-state order. */
  variants: Array<{ members: string[]; history: string }>;
}

/** Lines of a .history file without blank lines and with whitespace runs collapsed, so that a trailing
 * newline or tabs versus spaces never pass for a fork. */
function historyLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim().replace(/\s+/g, " "))
    .filter((l) => l !== "");
}

const SHOWN_LINES = 3;

/** Up to 3 lines of a history ending at line `diff` (0-based) where the variants first differ. */
function showHistory(lines: string[], diff: number): string {
  if (lines.length === 0) return "(empty)";
  const from = Math.max(0, Math.min(diff, lines.length - 1) - (SHOWN_LINES - 1));
  const shown = lines.slice(from, from + SHOWN_LINES);
  const text = shown.map((l) => JSON.stringify(l)).join(", ");
  const before = from > 0 ? `... ` : "";
  const after = from + shown.length < lines.length ? ", ..." : "";
  return `${before}${text}${after} (${lines.length} line${lines.length === 1 ? "" : "s"})`;
}

/**
 * Members on the same timeline number whose timeline histories differ: two promotions picked the same
 * number, so the timeline forked. Any two members count, the leader included; members without a
 * history are left out.
 */
export function timelineForks(members: readonly FinalMember[]): TimelineFork[] {
  const byTimeline = new Map<number, Map<string, string[]>>();
  for (const m of members) {
    if (m.timeline === undefined || m.timelineHistory === undefined) continue;
    const key = historyLines(m.timelineHistory).join("\n");
    const variants = byTimeline.get(m.timeline) ?? new Map<string, string[]>();
    byTimeline.set(m.timeline, variants);
    variants.set(key, [...(variants.get(key) ?? []), m.node]);
  }
  const forks: TimelineFork[] = [];
  for (const [timeline, variants] of [...byTimeline].sort((a, b) => a[0] - b[0])) {
    if (variants.size < 2) continue;
    forks.push({ timeline, variants: [...variants].map(([history, nodes]) => ({ members: nodes, history })) });
  }
  return forks;
}

function describeFork(f: TimelineFork): string {
  const lines = f.variants.map((v) => historyLines(v.history));
  let k = 0;
  while (lines.every((l) => l[k] !== undefined && l[k] === lines[0]![k])) k++;
  const sides = f.variants.map((v, i) => `${v.members.join(", ")} ${v.members.length > 1 ? "have" : "has"} ${showHistory(lines[i]!, k)}`);
  const where = ` (first difference at line ${k + 1})`;
  return `timeline ${f.timeline} forked: members ${f.variants.flatMap((v) => v.members).join(", ")} are all on timeline ${f.timeline} with different histories${where}: ${sides.join("; ")}`;
}

/**
 * Every member must hold exactly the leader's rows on the leader's timeline once the cluster recovered,
 * and no two members may be on the same timeline number with different timeline histories (a fork).
 * expect.divergence === true (a scenario that demonstrates divergence) reports it without failing.
 */
export const divergence: Checker = ({ history, final, expect }) => {
  const divergenceExpected = expect.divergence === true;
  const forks = timelineForks(final.members);
  const forkReasons = forks.map(describeFork);
  const found = finalLeader(final);
  if ("reason" in found) {
    const reasons = [...forkReasons, `${found.reason}: nothing to compare members with`];
    if (forks.length === 0) return { valid: "unknown", reasons };
    return { valid: divergenceExpected ? "unknown" : false, reasons, forks, ...(divergenceExpected ? { divergenceExpected } : {}) };
  }
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

  diverged.unshift(...forkReasons);
  let valid: Validity = true;
  if (diverged.length > 0 && !divergenceExpected) valid = false;
  else if (unreadable.length > 0) valid = "unknown";
  const reasons = [...diverged, ...unreadable];
  const result: CheckResult = { valid, leader: leader.node, leaderTimeline: leader.timeline, members };
  if (forks.length > 0) result.forks = forks;
  if (reasons.length > 0) result.reasons = reasons;
  if (divergenceExpected) result.divergenceExpected = true;
  return result;
};
