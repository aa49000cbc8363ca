/**
 * `npm run compare -- --stacks A,B --scenarios LIST|SUITE [--repeat N] [--profile P] [--sync] [--out DIR] [--no-doc]`.
 * The logic is runCompare (compare.ts), which takes its scenario runner and stack parser as dependencies;
 * this file only wires the real ones, signals and exit codes.
 */
import { resolve } from "node:path";
import { loadScenario } from "../scenario/loader.ts";
import { runScenario } from "../scenario/runner.ts";
import { canonicalStack } from "../stack/index.ts";
import { EnvironmentError, UsageError, errorMessage } from "../util/errors.ts";
import { abortOnSignals } from "../util/signals.ts";
import { runCompare } from "./compare.ts";

const ROOT = resolve(import.meta.dirname, "../..");

async function main(): Promise<number> {
  const signal = abortOnSignals();
  try {
    const code = await runCompare(process.argv.slice(2), { runScenario, loadScenario, parseStack: canonicalStack, root: ROOT, stdout: process.stdout, stderr: process.stderr }, signal);
    if (code === 130) process.stderr.write("compare: interrupted; faults healed and the cluster removed\n");
    return code;
  } catch (e) {
    if (signal.aborted) {
      process.stderr.write("compare: interrupted; faults healed and the cluster removed\n");
      return 130;
    }
    if (e instanceof UsageError || e instanceof EnvironmentError) {
      process.stderr.write(`pgchaos compare: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`pgchaos compare: ${errorMessage(e)}\n`);
    return 1;
  }
}

process.exitCode = await main();
