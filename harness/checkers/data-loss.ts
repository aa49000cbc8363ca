import { finalLeader } from "./final.ts";
import { describeIds, rangesToSet } from "./ranges.ts";
import type { Checker, CheckResult } from "./types.ts";
import { classifyWrites } from "./writes.ts";
import { recoveryPointOf } from "./restore.ts";

const sorted = (ids: Iterable<number>) => [...ids].sort((a, b) => a - b);

/** Acknowledged writes must survive on the final leader; definitely failed and never-invoked ids must not. */
export const dataLoss: Checker = ({ history, final, expect }) => {
  // Also checks, where final.leaderProbeWrites was read, the writes each node acknowledged directly.
  const found = finalLeader(final);
  if ("reason" in found) return { valid: "unknown", reasons: [`${found.reason}: cannot tell which writes survived`] };
  const present = rangesToSet(found.leader.ids);
  const w = classifyWrites(history);

  // After a restore from backups (the disaster fault), what was acknowledged after the recovery point is the restore's
  // loss, judged by the recoveryPoint check (against the archive's end and a bound); what is missing before it counts here.
  const rp = recoveryPointOf(history, present);
  const afterPoint = new Set(rp?.lostAfter ?? []);
  const lostIds = sorted([...w.acknowledged].filter((id) => !present.has(id) && !afterPoint.has(id)));
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
    ...(rp ? { lostAfterRecoveryPoint: afterPoint.size } : {}),
  };

  // Writes acknowledged to the probes beside each node, where the final leader's copy was read.
  if (final.leaderProbeWrites) {
    const lostDirect: Record<string, number[]> = {};
    const invoked = new Map<string, number>();
    for (const e of history) {
      if (e.f === "node-probe" && e.type === "invoke" && e.node) invoked.set(`${e.node}/${String(e.value)}`, e.time);
      if (e.f !== "node-probe" || e.type !== "ok" || !e.node) continue;
      const v = e.value as { state?: string; seq?: number };
      if (v.state !== "writable" || typeof v.seq !== "number") continue;
      const kept = rangesToSet(final.leaderProbeWrites[e.node] ?? []);
      // Acknowledged after the recovery point's write began, and begun before the restore: the restore's loss too.
      const inv = invoked.get(`${e.node}/${v.seq}`) ?? e.time;
      if (rp && e.time > (rp.point?.invokeAt ?? -Infinity) && inv < rp.restoreAt) continue;
      if (!kept.has(v.seq)) (lostDirect[e.node] ??= []).push(v.seq);
    }
    result.lostDirect = Object.values(lostDirect).reduce((n, xs) => n + xs.length, 0);
    result.lostDirectByNode = lostDirect;
  }

  const reasons: string[] = [];
  const allowed = expect.lostWrites ?? 0;
  if (typeof result.lostDirect === "number" && result.lostDirect > allowed) {
    const per = Object.entries(result.lostDirectByNode as Record<string, number[]>)
      .map(([n, xs]) => `${xs.length} acknowledged by ${n} (probe ${describeIds(sorted(xs), 10).replace(/^ids /, "seqs ")})`)
      .join("; ");
    reasons.push(`${result.lostDirect} writes acknowledged directly by a node to a client beside it are missing from the final leader: ${per}`);
  }
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
