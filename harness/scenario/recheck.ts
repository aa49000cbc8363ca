import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readHistory } from "../history/reader.ts";
import type { FinalState } from "../checkers/types.ts";
import { combineValidity } from "../checkers/index.ts";
import { check, evaluateExpectations, writeFigures, type Verdict } from "./verdict.ts";
import { UsageError, errorMessage } from "../util/errors.ts";
import { writeReports } from "../report/write.ts";

/**
 * Re-runs the checkers on a stored run directory (history.jsonl, final.json, verdict.json or
 * scenario.json) and rewrites its verdict.json. A run is re-checkable from its directory alone.
 */
export async function recheck(runDir: string): Promise<{ verdict: Verdict; runDir: string }> {
  const need = (f: string) => {
    const p = join(runDir, f);
    if (!existsSync(p)) throw new UsageError(`${runDir} is not a complete run directory: ${f} is missing`);
    return p;
  };
  // A damaged file is bad input (exit 2), not a failed run: say which file and what is wrong with it.
  const damaged = (f: string, e: unknown) => new UsageError(`${runDir} cannot be re-checked: ${f} is damaged: ${errorMessage(e)}`);
  const json = (f: string) => {
    try {
      return JSON.parse(readFileSync(join(runDir, f), "utf8")) as unknown;
    } catch (e) {
      throw damaged(f, e);
    }
  };
  const history = await readHistory(need("history.jsonl")).catch((e: unknown) => {
    throw damaged("history.jsonl", e);
  });
  need("final.json");
  const final = json("final.json") as FinalState;
  const previous = existsSync(join(runDir, "verdict.json")) ? (json("verdict.json") as Verdict) : undefined;
  need("scenario.json");
  const meta = json("scenario.json") as {
    scenario: { name: string };
    platform: string;
    stack?: { name: string };
    profile: { name: string };
    expectations: Verdict["expectations"];
    settings: Record<string, unknown>;
    runId?: string;
    startedAt: string;
  };
  const result = check(history, final, meta.expectations);
  const checks = result.checks;
  // Runs recorded before recovery went into the history keep the verdict's own.
  if (!checks.recovery && previous?.checks.recovery) checks.recovery = previous.checks.recovery;
  const verdict: Verdict = {
    scenario: meta.scenario.name,
    platform: meta.platform,
    ...(meta.stack ? { stack: meta.stack.name } : {}),
    profile: meta.profile.name,
    runId: meta.runId,
    startedAt: meta.startedAt,
    // A run that errored stays unknown on recheck, as the runner judged it.
    valid: combineValidity(result.valid, checks.recovery?.valid ?? true, previous?.run.error ? "unknown" : true),
    expectations: meta.expectations,
    expectationResults: evaluateExpectations(meta.expectations, checks),
    checks,
    settings: meta.settings,
    run: { ...(previous?.run ?? { phases: [] }), writes: writeFigures(history) },
  };
  writeFileSync(join(runDir, "verdict.json"), JSON.stringify(verdict, null, 2));
  await writeReports(runDir);
  return { verdict, runDir };
}
