import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { checkStackName } from "../stack/index.ts";
import { defaultStack } from "../stack/patroni/versions.ts";
import { prepareOutDir } from "../util/out-dir.ts";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { distribution, repeatFigures } from "../report/distribution.ts";
import { Progress } from "../report/progress.ts";
import { appendStepSummary } from "../report/summary-md.ts";
import { renderVerdict } from "../report/terminal.ts";
import { writeRepeatReport } from "../report/write.ts";
import type { RunOptions, RunResult } from "../scenario/runner.ts";
import { expectationsFor, timestampDir } from "../scenario/runner.ts";
import type { Scenario } from "../scenario/types.ts";
import { getProfile } from "../stack/patroni/profiles.ts";
import type { Verdict } from "../scenario/verdict.ts";
import { EnvironmentError, UsageError, errorMessage } from "../util/errors.ts";
import { DEFAULT_TOLERANCE, GATED_FIGURES, readBaseline, writeBaseline, type Baseline } from "./baseline.ts";
import { compare, updatedBaseline, type EntryResults, type GateExpectations, type RunOutcome } from "./compare.ts";
import { renderGateHtml, renderGateJunit, renderGateMarkdown, renderGateText, type GateMeta } from "./report.ts";
import { SUITE_DIR, entryKey, loadSuite, splitProfile } from "./suite.ts";

export const GATE_HELP = `pgchaos gate: run a suite of scenarios and compare it with a stored baseline

Usage:
  npm run gate -- [--suite NAME] [--baseline FILE] [--update-baseline] [--out DIR]

Options:
  --suite NAME        suite in suites/<NAME>.ts (default: smoke)
  --stack NAME        the HA stack every run uses (default: each scenario's, Debian 12's Patroni); baseline
                      entries of another stack than the default are keyed <scenario>/<profile>@<stack>
  --baseline FILE     baseline JSON (default: suites/<NAME>.baseline.json)
  --update-baseline   record the new medians and p95s in the baseline (entries whose runs were clean);
                      a missing baseline entry or file is then no error, and regressions do not fail
  --out DIR           where run directories and gate-report.{md,html}, junit.xml go
                      (default: reports/gate/<suite>-<timestamp>/)
  --quiet             no progress lines
  -h, --help          this help

Exit codes: 0 every expectation met, no safety finding, no figure regressed beyond the baseline's
tolerance; 1 otherwise; 2 usage error (unknown suite, missing or malformed baseline...); 130 interrupted.
`;

/** What the gate needs from the outside world; tests pass fakes, the CLI the real things. */
export interface GateDeps {
  runScenario: (opts: RunOptions) => Promise<RunResult>;
  loadScenario: (name: string) => Promise<Scenario>;
  suiteDir?: string;
  /** Repository root: default output goes to <root>/reports/gate/. */
  root: string;
  stdout: { write(s: string): unknown };
  stderr: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        suite: { type: "string" },
        stack: { type: "string" },
        baseline: { type: "string" },
        "update-baseline": { type: "boolean" },
        out: { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    throw new UsageError(`${errorMessage(e)}\nSee \`npm run gate -- --help\`.`);
  }
}

interface Planned {
  key: string;
  scenario: Scenario;
  profile: string;
  base: string;
  sync: boolean;
  repeat: number;
}

/**
 * The gate: parse, check everything that can be checked before a cluster starts (suite, scenarios,
 * profiles, baseline file and entries), run the suite, compare, write reports, and return the exit code.
 * Usage errors throw UsageError (exit 2) before any run starts.
 */
export async function runGate(argv: string[], deps: GateDeps, signal: AbortSignal): Promise<number> {
  const o = parse(argv);
  if (o.help) {
    deps.stdout.write(GATE_HELP);
    return 0;
  }
  const now = deps.now ?? (() => new Date());
  const env = deps.env ?? process.env;
  const suiteDir = deps.suiteDir ?? SUITE_DIR;
  const update = o["update-baseline"] === true;
  const suite = await loadSuite(o.suite ?? "smoke", suiteDir);

  const baselineFile = resolve(o.baseline ?? join(suiteDir, `${suite.name}.baseline.json`));
  let baseline: Baseline | undefined;
  if (existsSync(baselineFile)) baseline = readBaseline(baselineFile);
  else if (!update) {
    throw new UsageError(
      `baseline file ${baselineFile} does not exist. Record one by running the suite with \`npm run gate -- --suite ${suite.name} --update-baseline\`` +
        (o.baseline ? "" : `, or point to one with --baseline FILE`),
    );
  }

  if (o.stack !== undefined) checkStackName(o.stack);
  const stackKey = o.stack === undefined || o.stack === "patroni" || o.stack === defaultStack().name ? "" : `@${o.stack}`;
  const planned: Planned[] = [];
  for (const entry of suite.entries) {
    const scenario = await deps.loadScenario(entry.scenario);
    for (const p of entry.profiles) {
      // A scenario that declares synchronous mode keeps it; "+sync" turns it on for one that does not.
      const { profile: base, sync: syncAsked } = splitProfile(p);
      const sync = syncAsked || scenario.sync;
      const profile = sync ? `${base}+sync` : base;
      planned.push({ key: `${entryKey(scenario.name, profile)}${stackKey}`, scenario, profile, base, sync, repeat: entry.repeat });
    }
  }
  const dup = planned.map((p) => p.key).filter((k, i, all) => all.indexOf(k) !== i);
  if (dup.length) throw new UsageError(`suite ${suite.name} lists ${[...new Set(dup)].join(", ")} more than once`);
  if (!update) {
    const missing = planned.filter((p) => !baseline!.scenarios[p.key]).map((p) => p.key);
    if (missing.length) {
      throw new UsageError(
        `baseline ${baselineFile} has no entry for ${missing.join(", ")}. Nothing was run. ` +
          `Record ${missing.length > 1 ? "them" : "it"} with \`npm run gate -- --suite ${suite.name} --update-baseline\` (other entries keep their values).`,
      );
    }
  }

  const startedAt = now();
  const outDir = prepareOutDir(o.out ?? join(deps.root, "reports", "gate", `${suite.name}-${timestampDir(startedAt)}`));
  const total = planned.reduce((s, p) => s + p.repeat, 0);
  let done = 0;
  const results: EntryResults[] = [];
  const expectations: Record<string, GateExpectations> = {};
  for (const p of planned) {
    expectations[p.key] = expectationsFor(p.scenario, getProfile(p.base, { sync: p.sync }));
    const runs: RunOutcome[] = [];
    for (let i = 1; i <= p.repeat; i++) {
      done++;
      const progress = new Progress(deps.stderr, o.quiet);
      progress.line(`gate ${suite.name} [${done}/${total}]: ${p.key} run ${i} of ${p.repeat}`);
      try {
        const r = await deps.runScenario({ scenario: p.scenario, profile: p.base, sync: p.sync, stack: o.stack, outDir, signal, progress });
        runs.push({ runDir: r.runDir, verdict: r.verdict });
        deps.stdout.write(renderVerdict(r.verdict, r.runDir, deps.stdout as NodeJS.WriteStream));
      } catch (e) {
        // Interrupted, or this machine cannot run clusters at all: stop the whole gate.
        if (signal.aborted || e instanceof EnvironmentError || e instanceof UsageError) throw e;
        const x = e as { runDir?: string; verdict?: Verdict };
        runs.push({ runDir: x.runDir, verdict: x.verdict, error: errorMessage(e) });
        deps.stderr.write(`gate: ${p.key} run ${i} failed: ${errorMessage(e)}\n`);
      }
    }
    results.push({ key: p.key, scenario: p.scenario.name, profile: p.profile, runs });
    writeRepeatSummary(outDir, p, runs, deps.stderr);
  }

  const comparison = compare(results, baseline, expectations, { updateBaseline: update, baselineName: baselineFile });
  const meta: GateMeta = { suite: suite.name, baselineFile, updateBaseline: update, outDir, startedAt: startedAt.toISOString() };
  deps.stdout.write(renderGateText(comparison, meta));
  const md = renderGateMarkdown(comparison, meta);
  writeFileSync(join(outDir, "gate-report.md"), md);
  writeFileSync(join(outDir, "gate-report.html"), renderGateHtml(comparison, meta));
  writeFileSync(join(outDir, "junit.xml"), renderGateJunit(comparison, meta));
  appendStepSummary(md, env);

  if (update) {
    const u = updatedBaseline(baseline, comparison, GATED_FIGURES, now(), DEFAULT_TOLERANCE);
    mkdirSync(dirname(baselineFile), { recursive: true });
    writeBaseline(baselineFile, u.baseline);
    deps.stdout.write(`baseline ${baselineFile}: updated ${u.updated.join(", ") || "nothing"}\n`);
    for (const s of u.skipped) deps.stdout.write(`  kept ${s.key} as it was: ${s.why}\n`);
  }
  return comparison.pass ? 0 : 1;
}

/** <out>/<scenario>/repeat-<profile>.json (the CLI's --repeat format) and its HTML, for each key. */
function writeRepeatSummary(outDir: string, p: Planned, runs: RunOutcome[], stderr: { write(s: string): unknown }): void {
  try {
    const verdicts = runs.flatMap((r) => (r.verdict ? [r.verdict] : []));
    const figures = Object.fromEntries(Object.entries(repeatFigures(verdicts)).map(([k, xs]) => [k, distribution(xs)]));
    const dir = join(outDir, p.scenario.name);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `repeat-${p.profile}.json`);
    writeFileSync(file, JSON.stringify({ scenario: p.scenario.name, profile: p.profile, runs: runs.flatMap((r) => (r.runDir ? [r.runDir] : [])), figures }, null, 2));
    writeRepeatReport(file);
  } catch (e) {
    stderr.write(`gate: could not write the repeat summary of ${p.key}: ${errorMessage(e)}\n`);
  }
}
