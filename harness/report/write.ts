import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { UsageError } from "../util/errors.ts";
import { renderHtml, renderRepeatHtml, type RepeatRun, type RepeatSummary } from "./html.ts";
import { renderJunit } from "./junit.ts";
import { loadRun } from "./run-dir.ts";
import { renderSummaryMd } from "./summary-md.ts";

export const REPORT_FILES = ["report.html", "junit.xml", "summary.md"] as const;

/**
 * Writes report.html, junit.xml and summary.md into a run directory, from that directory's files alone
 * (so a stored run can have its reports re-made). A run that failed before final.json or scenario.json
 * existed still gets reports, which say what is missing. Throws (UsageError, naming the file) when
 * verdict.json or history.jsonl is missing or malformed; the runner should log that, not fail the run.
 */
export async function writeReports(runDir: string): Promise<{ files: string[] }> {
  const run = await loadRun(runDir, { allowMissing: true });
  // The report links to its siblings, which exist by the time anyone opens it.
  run.files = [...new Set([...run.files, ...REPORT_FILES])].sort();
  const out: Array<[string, string]> = [
    ["report.html", renderHtml(run)],
    ["junit.xml", renderJunit([run.verdict])],
    ["summary.md", renderSummaryMd([run.verdict], { title: `${run.verdict.scenario} (${run.verdict.profile})`, links: ["report.html"] })],
  ];
  for (const [name, text] of out) writeFileSync(join(runDir, name), text);
  return { files: out.map(([name]) => join(runDir, name)) };
}

/**
 * Writes `<summary>.html` next to a repeat summary (reports/<scenario>/repeat-*.json): the distribution of
 * each figure and a row per run linking to its report.html. A run directory that is gone is listed as such.
 */
export function writeRepeatReport(summaryFile: string): { file: string } {
  if (!existsSync(summaryFile)) throw new UsageError(`${summaryFile} does not exist: give a repeat summary such as reports/<scenario>/repeat-<timestamp>.json`);
  let summary: RepeatSummary;
  try {
    summary = JSON.parse(readFileSync(summaryFile, "utf8")) as RepeatSummary;
  } catch (e) {
    throw new UsageError(`${summaryFile} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof summary?.scenario !== "string" || !Array.isArray(summary.runs) || typeof summary.figures !== "object" || summary.figures === null) {
    throw new UsageError(`${summaryFile} is malformed: expected {scenario, runs: [...], figures: {...}}`);
  }
  const here = dirname(summaryFile);
  const runs: RepeatRun[] = summary.runs.map((dir) => {
    const abs = resolve(dir); // stored absolute by the CLI; a relative one is taken from the working directory
    const rel = relative(here, abs) || ".";
    const href = existsSync(join(abs, "report.html")) ? `${rel}/report.html` : `${rel}/`;
    const verdictFile = join(abs, "verdict.json");
    if (!existsSync(verdictFile)) return { label: basename(abs), href, error: "verdict.json missing" };
    try {
      return { label: basename(abs), href, verdict: JSON.parse(readFileSync(verdictFile, "utf8")) };
    } catch (e) {
      return { label: basename(abs), href, error: `verdict.json unreadable: ${e instanceof Error ? e.message : String(e)}` };
    }
  });
  const file = summaryFile.replace(/\.json$/, "") + ".html";
  writeFileSync(file, renderRepeatHtml(summary, runs));
  return { file };
}

/**
 * `npm run scenario -- --report PATH`: re-makes the reports of a stored run directory, or the HTML of a
 * repeat summary (reports/<scenario>/repeat-*.json). Returns the files written.
 */
export async function remakeReports(path: string): Promise<{ files: string[] }> {
  if (path.endsWith(".json") && existsSync(path) && !statSync(path).isDirectory()) return { files: [writeRepeatReport(path).file] };
  return writeReports(path);
}
