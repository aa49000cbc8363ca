import { parseArgs } from "node:util";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { listScenarios, loadScenario } from "./scenario/loader.ts";
import { runScenario, timestampDir, type RunResult } from "./scenario/runner.ts";
import { recheck } from "./scenario/recheck.ts";
import { Progress } from "./report/progress.ts";
import { renderVerdict } from "./report/terminal.ts";
import { distribution, repeatFigures } from "./report/distribution.ts";
import pino from "pino";
import { remakeReports, writeRepeatReport } from "./report/write.ts";
import { profileNames } from "./stack/patroni/profiles.ts";
import { getPlatform, PLATFORM_NAMES } from "./platform/index.ts";
import { EnvironmentError, UsageError, errorMessage } from "./util/errors.ts";
import { abortOnSignals } from "./util/signals.ts";
import { prepareOutDir } from "./util/out-dir.ts";
import { joinNegativeValues } from "./util/argv.ts";
import { checkStackName, stackCapabilities, stackLines } from "./stack/index.ts";
import { assertCapable } from "./scenario/capabilities.ts";

const ROOT = resolve(import.meta.dirname, "..");

const HELP = `pgchaos: chaos and failover tests for HA PostgreSQL (Patroni + etcd)

Usage:
  npm run scenario -- <name> [options]     run a scenario on the local platform
  npm run scenario -- --list               list scenarios
  npm run scenario -- --list-stacks        list the HA stacks, with their packages and checksums
  npm run scenario -- --recheck DIR        re-run the checkers on a stored run directory
  npm run scenario -- --report DIR         re-make report.html, junit.xml, summary.md of a stored run
                                           (or the HTML of a reports/<scenario>/repeat-*.json)
  npm run scenario -- --cleanup [--force]  remove what crashed runs left (namespaces, processes, data)
        [--platform docker]                ... on the Docker daemon: the run's containers, network, processes
        [--platform kind|minikube]         ... in that cluster instead: run namespaces, cordons, stopped
                                           nodes, or the whole cluster if a crashed run created it
        [--platform kube --context NAME]   ... in the cluster of that kubeconfig context (never deleted)
        [--namespace NS]                   ... and the objects crashed runs left in that namespace of yours

Options:
  --platform NAME  where the cluster runs: local (default; network namespaces on this machine), docker (containers
                   on a Docker daemon; pgchaos starts one if none runs), kind, minikube,
                   or kube (any cluster a kubeconfig context reaches: --context; see README, Platforms)
  --context NAME   kube: the kubeconfig context (KUBECONFIG or ~/.kube/config); the image comes from
                   PGCHAOS_KUBE_IMAGE, a registry its nodes pull from
  --namespace NS   kube: run in this existing namespace (only the run's objects are deleted there),
                   instead of a namespace of the run's own
  --allow-node-faults  kube: let faults cordon the cluster's nodes (drain); never by default
  --attach X       kube: run against an operator's cluster (Zalando/Spilo, Crunchy PGO) instead of
                   deploying one, by name or label selector: writes go into a schema of the run's,
                   dropped afterwards; nothing of the operator's is deleted or changed (CloudNativePG
                   clusters are found, not run against yet)
  --operator NAME  with --attach: spilo, pgo or cnpg (found from the pods' labels when left out)
  --stack NAME     the HA stack: patroni (Debian 12's 3.0.2, the default), patroni@4.0.7, patroni@4.1.5
                   (see --list-stacks; other versions are fetched from Debian's archive and checked)
  --reuse          kind/minikube: use the existing cluster instead of creating (and deleting) one
  --profile NAME   HA profile: ${profileNames().join(" | ")} (default: the scenario's, usually fast)
  --sync           synchronous replication (Patroni synchronous_mode)
  --repeat N       run N times and report the distribution of each figure
  --out DIR        where run directories go (default: reports/)
  --keep           keep node data directories after the run (in /var/tmp/pgchaos/<run id>)
  --quiet          no progress lines
  -h, --help       this help

Exit codes: 0 every verdict met the scenario's expectations, 1 one did not (or the run failed),
2 usage or environment error, 130 interrupted (faults healed, everything removed).
`;

/** More runs than this is a typo, not a plan: 1000 runs of the shortest scenario already take a day. */
export const MAX_REPEAT = 1000;

const STRING_OPTIONS = new Set(["--profile", "--platform", "--stack", "--repeat", "--out", "--recheck", "--report", "--context", "--namespace", "--attach", "--operator"]);

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: joinNegativeValues(argv, STRING_OPTIONS),
      allowPositionals: true,
      options: {
        profile: { type: "string" },
        platform: { type: "string" },
        stack: { type: "string" },
        "list-stacks": { type: "boolean" },
        reuse: { type: "boolean" },
        sync: { type: "boolean" },
        repeat: { type: "string" },
        out: { type: "string" },
        keep: { type: "boolean" },
        list: { type: "boolean" },
        recheck: { type: "string" },
        report: { type: "string" },
        cleanup: { type: "boolean" },
        force: { type: "boolean" },
        quiet: { type: "boolean" },
        context: { type: "string" },
        namespace: { type: "string" },
        "allow-node-faults": { type: "boolean" },
        attach: { type: "string" },
        operator: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError(`${errorMessage(e)}\nSee \`npm run scenario -- --help\`.`);
  }
}

/**
 * The kube platform's flags: only with --platform kube (which --attach implies), which needs --context. Handed to
 * the platform in the environment, as --reuse is. Returns the platform the flags imply, if any.
 */
function kubeFlags(o: ReturnType<typeof parse>["values"]): string | undefined {
  const given = [
    o.context !== undefined && "--context",
    o.namespace !== undefined && "--namespace",
    o["allow-node-faults"] && "--allow-node-faults",
    o.attach !== undefined && "--attach",
    o.operator !== undefined && "--operator",
  ].filter((f): f is string => typeof f === "string");
  if (o.operator !== undefined && o.attach === undefined) throw new UsageError("--operator names the operator of an --attach target: give --attach too");
  const platform = o.platform ?? (o.attach !== undefined ? "kube" : undefined);
  if (given.length > 0 && platform !== "kube") {
    throw new UsageError(`${given.join(", ")} ${given.length > 1 ? "are" : "is"} for --platform kube (a cluster reached by kubeconfig context)${o.platform ? `, not --platform ${o.platform}` : ""}`);
  }
  if (platform !== "kube") return o.platform;
  if (o.context === undefined || o.context === "") {
    throw new UsageError("--platform kube needs --context NAME, a context of your kubeconfig (`kubectl config get-contexts` lists them)");
  }
  process.env.PGCHAOS_KUBE_CONTEXT = o.context;
  if (o.namespace !== undefined) process.env.PGCHAOS_KUBE_NAMESPACE = o.namespace;
  if (o["allow-node-faults"]) process.env.PGCHAOS_KUBE_ALLOW_NODE_FAULTS = "1";
  if (o.attach !== undefined) {
    const theirs = [o.stack !== undefined && "--stack", o.sync && "--sync", o["allow-node-faults"] && "--allow-node-faults"].filter((f): f is string => typeof f === "string");
    if (theirs.length > 0) {
      throw new UsageError(`${theirs.join(", ")} ${theirs.length > 1 ? "do" : "does"} not apply to --attach: the operator's cluster runs its own Patroni and settings, and an attached run cordons no node`);
    }
    process.env.PGCHAOS_KUBE_ATTACH = o.attach;
    if (o.operator !== undefined) process.env.PGCHAOS_KUBE_OPERATOR = o.operator;
  }
  return platform;
}

async function scenarioCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const { values: o, positionals } = parse(argv);
  if (o.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const modes = [o.list && "--list", o["list-stacks"] && "--list-stacks", o.cleanup && "--cleanup", o.recheck !== undefined && "--recheck", o.report !== undefined && "--report", positionals.length > 0 && `a scenario (${positionals.join(" ")})`].filter(
    (m): m is string => typeof m === "string",
  );
  if (modes.length > 1) {
    throw new UsageError(`${modes.join(" and ")} do different things; give one of them. See \`npm run scenario -- --help\`.`);
  }
  if (o["list-stacks"]) {
    for (const line of stackLines()) process.stdout.write(`${line}\n`);
    return 0;
  }
  if (o.list) {
    for (const name of listScenarios()) {
      const s = await loadScenario(name);
      process.stdout.write(`${name.padEnd(24)} ${s.description}\n`);
    }
    return 0;
  }
  if (o.platform !== undefined && !PLATFORM_NAMES.includes(o.platform)) {
    throw new UsageError(`unknown platform "${o.platform}": choose one of ${PLATFORM_NAMES.join(", ")}`);
  }
  const platformName = kubeFlags(o);
  if (o.cleanup) {
    if (o.attach !== undefined) throw new UsageError("--attach and --cleanup do different things; give one of them (an attached run leaves nothing to clean up)");
    const lines = await getPlatform(platformName ?? "local").cleanup({ force: o.force, log: pino({ level: "warn" }) });
    for (const l of lines) process.stdout.write(`${l}\n`);
    return 0;
  }
  if (o.report) {
    for (const f of (await remakeReports(resolve(o.report))).files) process.stdout.write(`${f}\n`);
    return 0;
  }
  if (o.recheck) {
    const { verdict, runDir } = await recheck(resolve(o.recheck));
    process.stdout.write(renderVerdict(verdict, runDir));
    return verdict.valid === true ? 0 : 1;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "no scenario named. Run `npm run scenario -- --list` to see them, then `npm run scenario -- <name>`."
        : `one scenario at a time, got: ${positionals.join(" ")}`,
    );
  }
  const repeat = o.repeat === undefined ? 1 : /^\d+$/.test(o.repeat) ? Number(o.repeat) : NaN;
  if (!Number.isSafeInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT) {
    throw new UsageError(`--repeat takes a whole number from 1 to ${MAX_REPEAT}, got "${o.repeat}"`);
  }
  if (o.profile !== undefined && !profileNames().includes(o.profile)) {
    throw new UsageError(`unknown profile "${o.profile}": choose one of ${profileNames().join(", ")}`);
  }
  if (o.stack !== undefined) checkStackName(o.stack);
  if (o.reuse) process.env.PGCHAOS_KUBE_REUSE = "1";
  const scenario = await loadScenario(positionals[0]!);
  if (o.attach !== undefined) {
    // What the scenario does to the cluster first: a fault an attached run never injects is refused before the cluster is asked anything.
    assertCapable(scenario.name, scenario.schedule.map((s) => s.fault), { ...getPlatform("kube"), name: "kube --attach" }, { name: "patroni", ...stackCapabilities("patroni") });
    const { checkAttach } = await import("./platform/kube/attach-discover.ts");
    const { faultKeys } = await import("./platform/kube/attach.ts");
    const found = await checkAttach({ attach: o.attach, operator: o.operator, context: o.context, namespace: o.namespace, faults: faultKeys(scenario.schedule.map((s) => s.fault)) });
    for (const line of found) process.stderr.write(`${line}\n`);
  }
  // The machine first (root, packages: the likelier fix), then every path the run writes, before anything starts.
  await getPlatform(platformName ?? scenario.platform).preflight();
  const outDir = prepareOutDir(o.out ?? join(ROOT, "reports"));
  const results: RunResult[] = [];
  for (let i = 1; i <= repeat; i++) {
    const progress = new Progress(process.stderr, o.quiet);
    progress.line(`${scenario.name}${repeat > 1 ? ` (run ${i} of ${repeat})` : ""}: ${scenario.description}`);
    const r = await runScenario({ scenario, profile: o.profile, sync: o.sync, platform: platformName, stack: o.stack, outDir, keep: o.keep, signal, progress });
    process.stdout.write(renderVerdict(r.verdict, r.runDir));
    results.push(r);
  }
  if (repeat > 1) {
    const figures = repeatFigures(results.map((r) => r.verdict));
    const summary = { scenario: scenario.name, runs: results.map((r) => r.runDir), figures: Object.fromEntries(Object.entries(figures).map(([k, xs]) => [k, distribution(xs)])) };
    const file = join(outDir, scenario.name, `repeat-${timestampDir()}.json`);
    mkdirSync(join(outDir, scenario.name), { recursive: true });
    writeFileSync(file, JSON.stringify(summary, null, 2));
    process.stdout.write(`distribution over ${repeat} runs (min / median / p95 / max):\n`);
    for (const [k, d] of Object.entries(summary.figures)) {
      if (d) process.stdout.write(`  ${k.padEnd(24)} ${d.min} / ${d.median} / ${d.p95} / ${d.max}\n`);
    }
    process.stdout.write(`  summary: ${file}\n`);
    process.stdout.write(`  report: ${writeRepeatReport(file).file}\n`);
  }
  return results.every((r) => r.verdict.valid === true) ? 0 : 1;
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const signal = abortOnSignals();
  try {
    if (command === "scenario") return await scenarioCommand(rest, signal);
    throw new UsageError(`unknown command "${command ?? ""}": use \`npm run scenario -- --help\``);
  } catch (e) {
    if (signal.aborted) {
      const removed = process.env.PGCHAOS_KUBE_ATTACH ? "the run's schema dropped (the operator's cluster stays)" : "the cluster removed";
      process.stderr.write(`interrupted: faults healed and ${removed}${(e as { runDir?: string }).runDir ? `; partial run in ${(e as { runDir?: string }).runDir}` : ""}\n`);
      return 130;
    }
    if (e instanceof UsageError || e instanceof EnvironmentError) {
      process.stderr.write(`pgchaos: ${e.message}\n`);
      return 2;
    }
    const runDir = (e as { runDir?: string }).runDir;
    process.stderr.write(`pgchaos: run failed: ${errorMessage(e)}\n${runDir ? `  logs and history: ${runDir}\n` : ""}`);
    return 1;
  }
}

const code = await main();
// After a Ctrl-C everything of the run is already healed and removed; what may still hold the event loop (a
// probe's socket timing out, a fault's wait abandoned mid-way) has nothing left to do. Exit now rather than
// seconds later. (stdout and stderr are written synchronously on Linux: nothing is lost.)
if (code === 130) process.exit(code);
process.exitCode = code;
