import type { HistoryEntry } from "../history/types.ts";

export interface WriteOutcomes {
  /** Ids with a write ok. */
  acknowledged: Set<number>;
  /** Ids with a definite write fail (and no ok). */
  failed: Set<number>;
  /** Ids with a write info, or invoked and never completed: maybe committed (DESIGN.md, idea 1). */
  indeterminate: Set<number>;
  /** Every id any write entry mentions. */
  seen: Set<number>;
}

function writeId(e: HistoryEntry): number {
  if (typeof e.value !== "number" || !Number.isSafeInteger(e.value)) {
    throw new Error(`history entry ${e.index} (write ${e.type}) has value ${JSON.stringify(e.value)}, expected an integer id`);
  }
  return e.value;
}

export function classifyWrites(history: readonly HistoryEntry[]): WriteOutcomes {
  const acknowledged = new Set<number>();
  const failed = new Set<number>();
  const info = new Set<number>();
  const completed = new Set<number>();
  const seen = new Set<number>();
  for (const e of history) {
    if (e.f !== "write") continue;
    const id = writeId(e);
    seen.add(id);
    if (e.type === "invoke") continue;
    completed.add(id);
    if (e.type === "ok") acknowledged.add(id);
    else if (e.type === "fail") failed.add(id);
    else info.add(id);
  }
  for (const id of acknowledged) failed.delete(id);
  const indeterminate = new Set<number>();
  for (const id of seen) {
    if (acknowledged.has(id) || failed.has(id)) continue;
    if (info.has(id) || !completed.has(id)) indeterminate.add(id);
  }
  return { acknowledged, failed, indeterminate, seen };
}
