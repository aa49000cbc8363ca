import type { HistoryEntry, RecoveryValue } from "../history/types.ts";
import type { CheckResult } from "./types.ts";

/** The runner's record of the recovery phase, if the history has one. */
export function recoveryEntry(history: readonly HistoryEntry[]): RecoveryValue | undefined {
  const e = [...history].reverse().find((x) => x.f === "recovery");
  return e?.value as RecoveryValue | undefined;
}

/**
 * Whether the cluster was whole again after the last heal (one leader, every replica streaming on its
 * timeline, a write acknowledged through the primary service), as the runner recorded it in the history.
 */
export function recovery(history: readonly HistoryEntry[]): CheckResult | undefined {
  const r = recoveryEntry(history);
  if (!r) return undefined;
  return r.recovered
    ? { valid: true, recoveryMs: r.recoveryMs }
    : { valid: false, reasons: [`the cluster was not whole (one leader, all replicas streaming) within ${r.timeoutMs} ms of the last heal${r.reason ? `: ${r.reason}` : ""}`] };
}
