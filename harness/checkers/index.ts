import { dataLoss } from "./data-loss.ts";
import { divergence } from "./divergence.ts";
import { failover } from "./failover.ts";
import { lag } from "./lag.ts";
import { splitBrain } from "./split-brain.ts";
import type { Checker, CheckInput, CheckResult, Validity } from "./types.ts";

const RANK: Record<string, number> = { true: 0, unknown: 1, false: 2 };

/** false > "unknown" > true; nothing to combine is true. */
export function combineValidity(...v: Validity[]): Validity {
  return v.reduce<Validity>((worst, x) => (RANK[String(x)]! > RANK[String(worst)]! ? x : worst), true);
}

function isValidity(v: unknown): v is Validity {
  return v === true || v === false || v === "unknown";
}

/** Runs every checker; one that throws (or returns no validity) is "unknown" with the error, never a crash. */
export function runCheckers(
  checkers: Record<string, Checker>,
  input: CheckInput,
): { valid: Validity; checks: Record<string, CheckResult> } {
  const checks: Record<string, CheckResult> = {};
  for (const [name, check] of Object.entries(checkers)) {
    try {
      const result = check(input);
      checks[name] = isValidity(result?.valid)
        ? result
        : { valid: "unknown", error: `checker returned no validity: ${JSON.stringify(result?.valid)}` };
    } catch (err) {
      checks[name] = { valid: "unknown", error: err instanceof Error ? err.message : String(err) };
    }
    const c = checks[name]!;
    if (c.valid !== true && c.error !== undefined && c.reasons === undefined) c.reasons = [`checker ${name} failed: ${c.error}`];
  }
  return { valid: combineValidity(...Object.values(checks).map((c) => c.valid)), checks };
}

export const defaultCheckers: Record<string, Checker> = { failover, dataLoss, divergence, splitBrain, lag };
