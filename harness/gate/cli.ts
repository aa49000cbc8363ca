/**
 * `npm run gate -- [--suite NAME] [--baseline FILE] [--update-baseline] [--out DIR]`.
 * The logic is runGate (gate.ts), which takes its scenario runner as a dependency; this file only wires
 * the real runner, signals and exit codes.
 */
import { resolve } from "node:path";
import { loadScenario } from "../scenario/loader.ts";
import { runScenario } from "../scenario/runner.ts";
import { EnvironmentError, UsageError, errorMessage } from "../util/errors.ts";
import { abortOnSignals } from "../util/signals.ts";
import { runGate } from "./gate.ts";

const ROOT = resolve(import.meta.dirname, "../..");

async function main(): Promise<number> {
  const signal = abortOnSignals();
  try {
    return await runGate(process.argv.slice(2), { runScenario, loadScenario, root: ROOT, stdout: process.stdout, stderr: process.stderr }, signal);
  } catch (e) {
    if (signal.aborted) {
      process.stderr.write("gate: interrupted; faults healed and the cluster removed\n");
      return 130;
    }
    if (e instanceof UsageError || e instanceof EnvironmentError) {
      process.stderr.write(`pgchaos gate: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`pgchaos gate: ${errorMessage(e)}\n`);
    return 1;
  }
}

process.exitCode = await main();
