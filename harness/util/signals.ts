import { InterruptedError } from "./errors.ts";

/**
 * An AbortSignal that fires on the first SIGINT, SIGTERM or SIGHUP, so the run heals its faults and tears
 * down. Later signals only say that cleanup is under way: a forced exit would leave namespaces and
 * processes behind (npm and the terminal may each deliver the same Ctrl-C).
 */
export function abortOnSignals(): AbortSignal {
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\n${sig}: healing faults and tearing down; this takes a few seconds\n`);
      abort.abort(new InterruptedError(sig));
    } else {
      process.stderr.write(`${sig}: still cleaning up, please wait (a forced exit would leave namespaces and processes behind)\n`);
    }
  };
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, onSignal);
  return abort.signal;
}
