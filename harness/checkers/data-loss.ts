import { finalLeader } from "./final.ts";
import { describeIds, rangesToSet } from "./ranges.ts";
import type { Checker, CheckResult } from "./types.ts";
import { classifyWrites } from "./writes.ts";

const sorted = (ids: Iterable<number>) => [...ids].sort((a, b) => a - b);

/** Acknowledged writes must survive on the final leader; definitely failed and never-invoked ids must not. */
export const dataLoss: Checker = ({ history, final, expect }) => {
  const found = finalLeader(final);
  if ("reason" in found) return { valid: "unknown", reasons: [`${found.reason}: cannot tell which writes survived`] };
  const present = rangesToSet(found.leader.ids);
  const w = classifyWrites(history);

  const lostIds = sorted([...w.acknowledged].filter((id) => !present.has(id)));
  const failedButPresent = sorted([...w.failed].filter((id) => present.has(id)));
  const unexpected = sorted([...present].filter((id) => !w.seen.has(id)));
  const result: CheckResult = {
    valid: true,
    leader: found.leader.node,
    acknowledged: w.acknowledged.size,
    lost: lostIds.length,
    lostIds,
    indeterminate: w.indeterminate.size,
    indeterminateCommitted: [...w.indeterminate].filter((id) => present.has(id)).length,
    failed: w.failed.size,
    failedButPresent,
    unexpected,
  };

  const reasons: string[] = [];
  const allowed = expect.lostWrites ?? 0;
  if (lostIds.length > allowed) {
    reasons.push(`${lostIds.length} acknowledged writes lost (allowed ${allowed}): ${describeIds(lostIds)}`);
  }
  if (failedButPresent.length > 0) {
    reasons.push(`${failedButPresent.length} writes reported as failed are present on the leader: ${describeIds(failedButPresent)}`);
  }
  if (unexpected.length > 0) {
    reasons.push(`${unexpected.length} ids on the leader were never written by the probe: ${describeIds(unexpected)}`);
  }
  if (reasons.length > 0) {
    result.valid = false;
    result.reasons = reasons;
  }
  return result;
};
