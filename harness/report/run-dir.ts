import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { FinalState } from "../checkers/types.ts";
import { readHistory } from "../history/reader.ts";
import type { HistoryEntry } from "../history/types.ts";
import type { Verdict } from "../scenario/verdict.ts";
import { UsageError } from "../util/errors.ts";

/** scenario.json as the runner writes it; only the fields reports read are typed. */
export interface ScenarioMeta {
  scenario: { name: string; description?: string; nodes?: number; [k: string]: unknown };
  profile?: { name: string; description?: string; [k: string]: unknown };
  expectations?: Verdict["expectations"];
  settings?: Record<string, unknown>;
  platform?: string;
  runId?: string;
  startedAt?: string;
}

/** Everything a report is made from: the run directory's files, parsed. */
export interface RunData {
  dir: string;
  verdict: Verdict;
  history: HistoryEntry[];
  /** Absent only when loaded with `allowMissing` and the run ended before the file was written. */
  meta?: ScenarioMeta;
  final?: FinalState;
  /** Run-directory files that were expected but absent (only with `allowMissing`). */
  missing: string[];
  /** Every file under the run directory, as paths relative to it ("logs/n1/patroni.log"). */
  files: string[];
}

export interface LoadOptions {
  /**
   * A run that failed early (deploy, say) has verdict.json and history.jsonl but no final.json and maybe no
   * scenario.json; with this set those two may be missing, so the failure still gets a report. A file that
   * is there but malformed is always an error.
   */
  allowMissing?: boolean;
}

/** Files that tell which run directory a report is of; the first two are never optional. */
const REQUIRED = ["verdict.json", "history.jsonl"] as const;
const OPTIONAL = ["scenario.json", "final.json"] as const;

function readJson(dir: string, file: string): unknown {
  const path = join(dir, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`${path} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path} is not valid JSON (${e instanceof Error ? e.message : String(e)}); the run directory is damaged`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function malformed(dir: string, file: string, what: string): UsageError {
  return new UsageError(`${join(dir, file)} is malformed: ${what}`);
}

function checkVerdict(dir: string, v: unknown): Verdict {
  if (!isObject(v)) throw malformed(dir, "verdict.json", "expected a JSON object");
  if (typeof v.scenario !== "string") throw malformed(dir, "verdict.json", `field "scenario" must be a string`);
  if (typeof v.profile !== "string") throw malformed(dir, "verdict.json", `field "profile" must be a string`);
  if (!(v.valid === true || v.valid === false || v.valid === "unknown")) throw malformed(dir, "verdict.json", `field "valid" must be true, false or "unknown"`);
  if (!isObject(v.checks)) throw malformed(dir, "verdict.json", `field "checks" must be an object`);
  for (const [name, c] of Object.entries(v.checks)) {
    if (!isObject(c)) throw malformed(dir, "verdict.json", `check "${name}" must be an object`);
  }
  if (!isObject(v.run) || !isObject(v.run.writes)) throw malformed(dir, "verdict.json", `field "run.writes" must be an object`);
  if (!Array.isArray(v.run.phases)) throw malformed(dir, "verdict.json", `field "run.phases" must be an array`);
  v.settings ??= {};
  v.expectations ??= {};
  return v as unknown as Verdict;
}

function checkFinal(dir: string, v: unknown): FinalState {
  if (!isObject(v) || !Array.isArray(v.members)) throw malformed(dir, "final.json", `expected an object with a "members" array`);
  return v as unknown as FinalState;
}

function checkMeta(dir: string, v: unknown): ScenarioMeta {
  if (!isObject(v) || !isObject(v.scenario) || typeof v.scenario.name !== "string") {
    throw malformed(dir, "scenario.json", `expected an object with "scenario.name"`);
  }
  return v as unknown as ScenarioMeta;
}

function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(join(dir, rel)).isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}

/** Reads a stored run directory; errors name the directory and the file that is missing or malformed. */
export async function loadRun(dir: string, opts: LoadOptions = {}): Promise<RunData> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a directory: give a run directory such as reports/<scenario>/<timestamp>`);
  const absent = (f: string) => !existsSync(join(dir, f));
  const missingRequired = REQUIRED.filter(absent);
  const missingOptional = OPTIONAL.filter(absent);
  if (missingRequired.length > 0 || (!opts.allowMissing && missingOptional.length > 0)) {
    const missing = [...missingRequired, ...(opts.allowMissing ? [] : missingOptional)];
    throw new UsageError(`${dir} is not a complete run directory: ${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} missing`);
  }
  const verdict = checkVerdict(dir, readJson(dir, "verdict.json"));
  let history: HistoryEntry[];
  try {
    history = await readHistory(join(dir, "history.jsonl"));
  } catch (e) {
    throw new UsageError(`history is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const meta = absent("scenario.json") ? undefined : checkMeta(dir, readJson(dir, "scenario.json"));
  const final = absent("final.json") ? undefined : checkFinal(dir, readJson(dir, "final.json"));
  return { dir, verdict, history, meta, final, missing: [...missingOptional], files: listFiles(dir) };
}
