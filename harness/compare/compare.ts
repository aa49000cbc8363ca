import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { joinNegativeValues } from "../util/argv.ts";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SUITE_DIR, listSuites, loadSuite, splitProfile } from "../gate/suite.ts";
import { hrefOf } from "../report/escape.ts";
import { Progress } from "../report/progress.ts";
import { loadRun } from "../report/run-dir.ts";
import { timelineModel } from "../report/timeline.ts";
import { renderLegend, renderTimelineSvg } from "../report/timeline-svg.ts";
import type { RunOptions, RunResult } from "../scenario/runner.ts";
import { timestampDir } from "../scenario/runner.ts";
import type { Scenario } from "../scenario/types.ts";
import type { Verdict } from "../scenario/verdict.ts";
import { EnvironmentError, UsageError, errorMessage } from "../util/errors.ts";
import { prepareOutDir } from "../util/out-dir.ts";
import { runFigures, secs, summarize, type Cell, type Comparison, type Row, type RunFigures } from "./model.ts";
import { renderComparisonHtml, renderDocSection, renderMarkdown, renderText, replaceDocSection, type Charts, type LinkFor } from "./render.ts";

export const COMPARE_HELP = `pgchaos compare: the same scenarios on several HA stacks, side by side

Usage:
  npm run compare -- --stacks STACK,STACK[,...] --scenarios NAME[,NAME...] [options]

Options:
  --stacks LIST       stacks to compare, e.g. patroni@3.0.2,patroni@4.0.7,patroni@4.1.5
  --scenarios LIST    scenario names (npm run scenario -- --list) and/or suite names (suites/*.ts: a suite
                      brings its scenarios, profiles and repeat counts)
  --repeat N          runs per scenario, profile and stack, 1 to 1000 (default: 1, or the suite's)
  --profile P         HA profile for every scenario (fast | default, optionally "+sync"; default: the
                      scenario's own, or the suite's profiles)
  --sync              synchronous replication (Patroni's synchronous_mode) for every scenario
  --out DIR           where run directories and comparison.{json,md,html} go
                      (default: reports/compare/<timestamp>/)
  --add-to DIR        add the stacks as columns to the comparison in DIR (an earlier --out folder): its
                      scenarios must be the ones named, its stacks stay as they were run, and the new runs,
                      the table and its document record both commands. The earlier comparison is rewritten
                      only once every new run is done (interrupted, it stays as it was); the exit code is
                      over every column, the earlier ones too
  --no-doc            leave reports/COMPARISON.md alone (by default its generated table is rewritten)
  --quiet             no progress lines
  -h, --help          this help

Runs are interleaved (each repeat runs every stack in turn) so a slow spell of the machine hits every stack alike.
Exit codes: 0 every run passed; 1 a run failed or a verdict was FAIL or UNKNOWN; 2 usage or environment
error (nothing was run); 130 interrupted (the current run's faults healed and its cluster removed).
`;

/** More runs than this is a typo, not a plan (as for `npm run scenario -- --repeat`). */
export const MAX_REPEAT = 1000;

/** What compare needs from the outside world; tests pass fakes, the CLI the real things. */
export interface CompareDeps {
  /** The scenario runner; it is given the stack's name in `stack`. */
  runScenario: (opts: RunOptions & { stack: string }) => Promise<RunResult>;
  loadScenario: (name: string) => Promise<Scenario>;
  /** A stack name → the stack (its canonical name); throws UsageError for an unknown one. */
  parseStack: (name: string) => { name: string };
  suiteDir?: string;
  /** Repository root: default output goes to <root>/reports/compare/, the document is <root>/reports/COMPARISON.md. */
  root: string;
  stdout: { write(s: string): unknown };
  stderr: NodeJS.WriteStream;
  now?: () => Date;
}

const STRING_OPTIONS = new Set(["--stacks", "--scenarios", "--repeat", "--profile", "--out", "--add-to"]);

function parse(argv: string[]) {
  const args = joinNegativeValues(argv, STRING_OPTIONS);
  try {
    return parseArgs({
      args,
      allowPositionals: false,
      options: {
        stacks: { type: "string" },
        scenarios: { type: "string" },
        repeat: { type: "string" },
        profile: { type: "string" },
        sync: { type: "boolean" },
        out: { type: "string" },
        "add-to": { type: "string" },
        "no-doc": { type: "boolean" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    throw new UsageError(`${errorMessage(e)}\nSee \`npm run compare -- --help\`.`);
  }
}

const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

interface Planned {
  key: string;
  scenario: Scenario;
  /** The profile runScenario takes, and the synchronous-mode switch. */
  base: string;
  sync: boolean;
  /** As run names show it: "fast+sync". */
  profile: string;
  repeat: number;
}

/** Everything checked before a cluster starts: stacks, scenarios or suites, profile, repeat. */
async function plan(o: ReturnType<typeof parse>, deps: CompareDeps): Promise<{ stacks: string[]; planned: Planned[] }> {
  if (o.stacks === undefined) throw new UsageError("--stacks is missing: name the stacks to compare, e.g. --stacks patroni@3.0.2,patroni@4.0.7");
  const stackNames = list(o.stacks);
  if (stackNames.length === 0) throw new UsageError(`--stacks "${o.stacks}" names no stack: give a comma-separated list, e.g. --stacks patroni@3.0.2,patroni@4.0.7`);
  const stacks = stackNames.map((s) => deps.parseStack(s).name);
  const dupStacks = stacks.filter((s, i) => stacks.indexOf(s) !== i);
  if (dupStacks.length) throw new UsageError(`--stacks names ${[...new Set(dupStacks)].join(", ")} more than once ("patroni" is the default stack): list each stack once`);

  const suiteDir = deps.suiteDir ?? SUITE_DIR;
  const suites = listSuites(suiteDir);
  if (o.scenarios === undefined) throw new UsageError(`--scenarios is missing: name scenarios (\`npm run scenario -- --list\`) or a suite (${suites.join(", ") || "none in suites/"}), e.g. --scenarios primary-kill,switchover`);
  const tokens = list(o.scenarios);
  if (tokens.length === 0) throw new UsageError(`--scenarios "${o.scenarios}" names nothing: give scenario names (\`npm run scenario -- --list\`) or a suite (${suites.join(", ")}), comma-separated`);

  let repeat: number | undefined;
  if (o.repeat !== undefined) {
    repeat = /^\d+$/.test(o.repeat) ? Number(o.repeat) : NaN;
    if (!Number.isSafeInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT) throw new UsageError(`--repeat takes a whole number from 1 to ${MAX_REPEAT}, got "${o.repeat}"`);
  }
  const profileOpt = o.profile === undefined ? undefined : splitProfile(o.profile);

  const planned: Planned[] = [];
  const add = (scenario: Scenario, profile: { profile: string; sync: boolean } | undefined, times: number) => {
    const base = profile?.profile ?? scenario.profile;
    // A scenario that declares synchronous mode keeps it; --sync or "+sync" turns it on for one that does not.
    const sync = o.sync === true || profile?.sync === true || scenario.sync;
    const label = sync ? `${base}+sync` : base;
    planned.push({ key: `${scenario.name}/${label}`, scenario, base, sync, profile: label, repeat: times });
  };
  for (const t of tokens) {
    if (suites.includes(t)) {
      const suite = await loadSuite(t, suiteDir);
      for (const e of suite.entries) {
        const scenario = await deps.loadScenario(e.scenario);
        for (const p of profileOpt ? [profileOpt] : e.profiles.map(splitProfile)) add(scenario, p, repeat ?? e.repeat);
      }
      continue;
    }
    let scenario: Scenario;
    try {
      scenario = await deps.loadScenario(t);
    } catch (e) {
      if (e instanceof UsageError && e.message.startsWith("unknown scenario")) {
        throw new UsageError(`${e.message} Or name a suite: ${suites.join(", ") || "(none in suites/)"}.`);
      }
      throw e;
    }
    add(scenario, profileOpt, repeat ?? 1);
  }
  const keys = planned.map((p) => p.key);
  const dup = keys.filter((k, i) => keys.indexOf(k) !== i);
  if (dup.length) throw new UsageError(`--scenarios "${o.scenarios}" brings ${[...new Set(dup)].join(", ")} more than once (a suite and a scenario it holds?): list each once`);
  return { stacks, planned };
}

/**
 * The earlier comparison in `dir` that `stacks` are added to: its rows must be exactly the planned ones (same scenarios,
 * profiles and repeat counts), and none of `stacks` may be in it already. UsageError otherwise.
 */
function addTo(dir: string, stacks: readonly string[], planned: readonly Planned[]): Comparison {
  const file = join(dir, "comparison.json");
  if (!existsSync(file)) throw new UsageError(`--add-to ${dir}: no comparison.json there; give the folder an earlier \`npm run compare\` wrote (its --out)`);
  let c: Comparison;
  try {
    c = JSON.parse(readFileSync(file, "utf8")) as Comparison;
  } catch (e) {
    throw new UsageError(`--add-to ${dir}: comparison.json cannot be read: ${errorMessage(e)}`);
  }
  if (c.interrupted) throw new UsageError(`--add-to ${dir}: that comparison was interrupted; run it whole first`);
  const already = stacks.filter((s) => c.stacks.includes(s));
  if (already.length) throw new UsageError(`--add-to ${dir}: ${already.join(", ")} already compared there (it has ${c.stacks.join(", ")})`);
  const want = planned.map((p) => `${p.key}×${p.repeat}`).join(", ");
  const have = c.rows.map((r) => `${r.key}×${r.repeat}`).join(", ");
  if (want !== have) throw new UsageError(`--add-to ${dir}: its scenarios are ${have}, not ${want}: name the same scenarios (or suite) and repeat count`);
  c.outDir = dir;
  return c;
}

/** A stack's folder under the output folder: its name, with anything but [\w@.+-] replaced. */
const stackFolder = (stack: string) => stack.replace(/[^\w@.+-]/g, "_");

function readVerdict(runDir: string | undefined, fallback: Verdict | undefined): Verdict | undefined {
  if (runDir) {
    const f = join(runDir, "verdict.json");
    if (existsSync(f)) {
      try {
        return JSON.parse(readFileSync(f, "utf8")) as Verdict;
      } catch {
        // A damaged verdict.json: use what the runner returned.
      }
    }
  }
  return fallback;
}

/** The small timeline of one run directory, or undefined when it has no write-probe history. */
async function smallTimeline(runDir: string, label: string): Promise<{ svg: string; legend: string } | undefined> {
  try {
    const run = await loadRun(runDir, { allowMissing: true });
    if (!run.history.some((e) => e.f === "write")) return undefined;
    const f = run.verdict.checks.failover;
    const model = timelineModel(run.history, {
      from: typeof f?.windowStart === "number" ? f.windowStart : undefined,
      to: typeof f?.windowEnd === "number" ? f.windowEnd : undefined,
    });
    return { svg: renderTimelineSvg(model, { width: 420, chartHeight: 110, id: null, className: "timeline small", label }), legend: renderLegend(model) };
  } catch {
    return undefined;
  }
}

/** Writes comparison.json, .md and .html into the output folder; returns the html path. */
async function writeOutputs(c: Comparison): Promise<{ json: string; md: string; html: string }> {
  const out = c.outDir;
  const json = join(out, "comparison.json");
  writeFileSync(json, JSON.stringify(c, null, 2));
  const linkHere: LinkFor = (runDir) => reportHref(out, runDir, out);
  const md = join(out, "comparison.md");
  writeFileSync(md, renderMarkdown(c, linkHere));
  const charts: Charts = {};
  let legend = "";
  for (const r of c.rows) {
    charts[r.key] = {};
    for (const s of c.stacks) {
      const first = r.cells[s]?.runs[0];
      if (first?.runDir === undefined) continue;
      const t = await smallTimeline(resolve(out, first.runDir), `timeline of ${r.key} on ${s}, run 1`);
      if (!t) continue;
      charts[r.key]![s] = t.svg;
      legend ||= t.legend;
    }
  }
  const html = join(out, "comparison.html");
  writeFileSync(html, renderComparisonHtml(c, linkHere, charts, legend));
  return { json, md, html };
}

/** The href of a run's report.html (or of its folder if it has none) from the folder `from`. */
function reportHref(outDir: string, runDir: string, from: string): string {
  const abs = resolve(outDir, runDir);
  const rel = relative(from, abs).split("\\").join("/") || ".";
  return existsSync(join(abs, "report.html")) ? `${hrefOf(rel)}/report.html` : `${hrefOf(rel)}/`;
}

function writeDoc(c: Comparison, docFile: string, htmlFile: string): void {
  const from = dirname(docFile);
  const section = renderDocSection(c, (runDir) => reportHref(c.outDir, runDir, from), hrefOf(relative(from, htmlFile).split("\\").join("/")));
  mkdirSync(from, { recursive: true });
  writeFileSync(docFile, replaceDocSection(existsSync(docFile) ? readFileSync(docFile, "utf8") : undefined, section));
}

const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/**
 * The comparison: parse, check everything before a cluster starts, run each (scenario, profile) `repeat`
 * times on every stack (interleaved), write comparison.{json,md,html} and the generated part of
 * reports/COMPARISON.md, and return the exit code. Usage errors throw UsageError before any run. A run that
 * throws is a failed run of its cell; an environment error skips the rest of that stack's runs (the whole
 * compare stops, exit 2, if no stack can run). Ctrl-C: the current run tears down, what was measured is
 * written, 130.
 */
export async function runCompare(argv: string[], deps: CompareDeps, signal: AbortSignal): Promise<number> {
  const o = parse(argv);
  if (o.help) {
    deps.stdout.write(COMPARE_HELP);
    return 0;
  }
  const now = deps.now ?? (() => new Date());
  const { stacks, planned } = await plan(o, deps);
  const startedAt = now();
  const command = ["npm", "run", "compare", "--", ...argv].map(shellQuote).join(" ");
  const emptyCells = () => Object.fromEntries(stacks.map((s): [string, Cell] => [s, { stack: s, runs: [], summary: summarize([]) }]));
  let c: Comparison;
  if (o["add-to"] !== undefined) {
    if (o.out !== undefined) throw new UsageError("--add-to writes into the earlier comparison's folder: drop --out");
    c = addTo(resolve(o["add-to"]), stacks, planned);
    // ";" and not "&&": the table is Markdown and HTML, where an ampersand is escaped.
    c.command = `${c.command}; ${command}`;
    for (const r of c.rows) Object.assign(r.cells, emptyCells());
    c.stacks.push(...stacks);
    c.interrupted = false;
  } else {
    const outDir = prepareOutDir(o.out ?? join(deps.root, "reports", "compare", timestampDir(startedAt)));
    c = {
      version: 1,
      command,
      startedAt: startedAt.toISOString(),
      outDir,
      stacks: [...stacks],
      interrupted: false,
      rows: planned.map((p): Row => ({ key: p.key, scenario: p.scenario.name, profile: p.profile, repeat: p.repeat, cells: emptyCells() })),
    };
  }
  const outDir = c.outDir;
  // Added columns are written apart while they run: an interrupted --add-to leaves the earlier comparison as it was.
  const adding = o["add-to"] !== undefined;
  const progressFile = join(outDir, adding ? "comparison.adding.json" : "comparison.json");
  const canonical = (name: string) => {
    try {
      return deps.parseStack(name).name;
    } catch {
      return name;
    }
  };
  const broken = new Map<string, string>();
  const total = planned.reduce((n, p) => n + p.repeat * stacks.length, 0);
  let done = 0;
  let environmentError: unknown;

  outer: for (const [ri, p] of planned.entries()) {
    const row = c.rows[ri]!;
    for (let i = 1; i <= p.repeat; i++) {
      for (const stack of stacks) {
        done++;
        const cell = row.cells[stack]!;
        if (broken.has(stack)) {
          cell.skipped = broken.get(stack);
          continue;
        }
        if (signal.aborted) {
          c.interrupted = true;
          break outer;
        }
        const progress = new Progress(deps.stderr, o.quiet);
        progress.line(`compare [${done}/${total}]: ${p.key} on ${stack}, run ${i} of ${p.repeat}`);
        let rec: RunFigures;
        try {
          const r = await deps.runScenario({ scenario: p.scenario, profile: p.base, sync: p.sync, stack, outDir: join(outDir, stackFolder(stack)), signal, progress });
          const v = readVerdict(r.runDir, r.verdict);
          rec = runFigures(v, relative(outDir, r.runDir));
          // A runner that ignored the stack would make the columns lie: say so where the verdict tells.
          const ran = (v as { stack?: unknown } | undefined)?.stack;
          if (typeof ran === "string" && ran !== stack && canonical(ran) !== stack) {
            deps.stderr.write(`compare: warning: ${p.key} run ${i} was asked for ${stack} but its verdict says ${ran}\n`);
          }
        } catch (e) {
          const x = e as { runDir?: string; verdict?: Verdict };
          rec = runFigures(readVerdict(x.runDir, x.verdict), x.runDir === undefined ? undefined : relative(outDir, x.runDir), errorMessage(e).split("\n")[0]);
          if (signal.aborted) {
            cell.runs.push(rec);
            cell.summary = summarize(cell.runs);
            c.interrupted = true;
            break outer;
          }
          if (e instanceof EnvironmentError || e instanceof UsageError) {
            // This machine cannot run this stack (not installed, not root...): its other runs would fail alike.
            broken.set(stack, errorMessage(e).split("\n")[0]!);
            environmentError ??= e;
          }
          deps.stderr.write(`compare: ${p.key} on ${stack}, run ${i} failed: ${errorMessage(e)}\n`);
        }
        cell.runs.push(rec);
        cell.summary = summarize(cell.runs);
        deps.stdout.write(
          `  ${stack} ${p.key} run ${i}: ${rec.error ? "run failed" : rec.valid === true ? "PASS" : rec.valid === false ? "FAIL" : "UNKNOWN"}` +
            (rec.writeUnavailableMs !== undefined ? `, writes unavailable ${secs(rec.writeUnavailableMs)}` : "") +
            (rec.lostWrites !== undefined ? `, lost ${rec.lostWrites}` : "") +
            (rec.runDir !== undefined ? ` (${join(outDir, rec.runDir)})` : "") +
            "\n",
        );
        // After every run, so a crash of the machine still leaves what was measured.
        writeFileSync(progressFile, JSON.stringify(c, null, 2));
      }
    }
  }
  if (broken.size === stacks.length && environmentError !== undefined && !c.interrupted) {
    // Nothing could run anywhere: that is the machine, not the stacks.
    writeFileSync(progressFile, JSON.stringify(c, null, 2));
    throw environmentError;
  }

  if (adding && c.interrupted) {
    deps.stdout.write(`compare: interrupted; ${join(outDir, "comparison.json")} is as it was, the added runs so far are in ${progressFile}\n`);
    return 130;
  }
  c.finishedAt = now().toISOString();
  const files = await writeOutputs(c);
  if (adding) rmSync(progressFile, { force: true });
  deps.stdout.write(renderText(c));
  deps.stdout.write(`comparison: ${files.html}\n            ${files.md}\n            ${files.json}\n`);
  if (!c.interrupted && o["no-doc"] !== true) {
    const docFile = join(deps.root, "reports", "COMPARISON.md");
    writeDoc(c, docFile, files.html);
    deps.stdout.write(`            ${docFile} (generated table rewritten)\n`);
  }
  if (c.interrupted) return 130;
  const allPass = c.rows.every((r) => c.stacks.every((s) => {
    const cell = r.cells[s]!;
    return !cell.skipped && cell.runs.length === r.repeat && cell.runs.every((x) => x.error === undefined && x.valid === true);
  }));
  return allPass ? 0 : 1;
}

