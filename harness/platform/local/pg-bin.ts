import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The folder a run's agents find PostgreSQL's programs in (Patroni's `bin_dir`): a link to each program of
 * PostgreSQL's own folder, except `pg_isready`, which is a script of ours.
 *
 * Why: after starting PostgreSQL, Patroni asks `pg_isready` twice, a few milliseconds apart, and when the server
 * still answers "starting up" it sleeps one whole second before asking again (`Postgresql.wait_for_startup`).
 * PostgreSQL is up some 20 ms later; the second was lost once on the bootstrapping member and once on every
 * replica after its base backup: most of a bring-up's spread, and its median over 4 s.
 *
 * While the run's bring-up mark exists (from before the first agent starts to the cluster's first "ready"),
 * the script asks again every 20 ms, 50 times at the most (each ask waits 1 s at the most for an answer), while the answer is "starting up" or "no answer",
 * then answers as `pg_isready` does then. It never waits longer than Patroni's own sleep would, and it
 * only acts during the bring-up: once the mark is gone it is `exec pg_isready`. No fault, failover, restart
 * or recovery a scenario times ever sees it, and no HA or DCS setting changes.
 */
export function makeRunBinDir(opts: { dir: string; realDir: string; bringUpMark: string }): void {
  mkdirSync(opts.dir, { recursive: true, mode: 0o755 });
  chmodSync(opts.dir, 0o755);
  for (const name of readdirSync(opts.realDir)) {
    if (name === "pg_isready") continue;
    const link = join(opts.dir, name);
    if (!existsSync(link)) symlinkSync(join(opts.realDir, name), link);
  }
  const script = join(opts.dir, "pg_isready");
  writeFileSync(script, pgIsReadyScript(join(opts.realDir, "pg_isready"), opts.bringUpMark), { mode: 0o755 });
  chmodSync(script, 0o755);
}

export function pgIsReadyScript(real: string, bringUpMark: string): string {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return `#!/bin/sh
# pgchaos: pg_isready for Patroni. During the run's bring-up only (while ${bringUpMark} exists), asks again
# every 20 ms for up to 1 s while PostgreSQL is starting up (exit 1) or not answering (exit 2), instead of
# letting Patroni sleep a whole second. See harness/platform/local/pg-bin.ts.
real=${q(real)}
if [ -e ${q(bringUpMark)} ]; then
  i=0
  while [ $i -lt 50 ]; do
    "$real" -q -t 1 "$@"
    case $? in 1|2) ;; *) break ;; esac
    sleep 0.02
    i=$((i + 1))
  done
fi
exec "$real" "$@"
`;
}

/** Ends the bring-up: from now on the run's pg_isready is PostgreSQL's own. */
export function endBringUp(bringUpMark: string): void {
  rmSync(bringUpMark, { force: true });
}
