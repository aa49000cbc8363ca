/**
 * `npm run gate -- [--suite NAME] [--baseline FILE] [--update-baseline] [--out DIR]`.
 * The logic is runGate (gate.ts), which takes its scenario runner as a dependency; this file only wires
 * the real runner, signals and exit codes.
 */
import { resolve } from "node:path";
import { loadScenario } from "../scenario/loader.ts";
import { runScenario } from "../scenario/runner.ts";
import { EnvironmentError, InterruptedError, UsageError, errorMessage } from "../util/errors.ts";
import { runGate } from "./gate.ts";

const ROOT = resolve(import.meta.dirname, "../..");

async function main(): Promise<number> {
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\n${sig}: healing faults and tearing down; this takes a few seconds\n`);
      abort.abort(new InterruptedError(sig));
    } else {
      process.stderr.write(`${sig}: still cleaning up, please wait\n`);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  try {
    return await runGate(process.argv.slice(2), { runScenario, loadScenario, root: ROOT, stdout: process.stdout, stderr: process.stderr }, abort.signal);
  } catch (e) {
    if (abort.signal.aborted) {
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
