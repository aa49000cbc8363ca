/**
 * Benchmarks of the local platform, written to reports/BENCHMARKS.md: cluster ready time, teardown time,
 * primary-kill wall time and failover figures, and the write probe's achieved rate. Several runs each,
 * medians quoted: these machines are noisy.
 *
 *   npm run bench -- [--clusters N] [--kills N] [--profile fast|default]
 *   npm run bench -- --workshop [--resets N] [--idle S]     (scripts/bench-workshop.ts)
 *   npm run bench -- --platforms local,docker [--kills N]   (scripts/bench-platforms.ts)
 */
import { parseArgs } from "node:util";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, cpus, totalmem, release } from "node:os";
import { join, resolve } from "node:path";
import { execFileSync } from "node:child_process";
import pino from "pino";
import { LocalCluster } from "../harness/platform/local/cluster.ts";
import { cachedInitdbOutputs } from "../harness/platform/local/pg-bin.ts";
import { localPreflight } from "../harness/platform/local/preflight.ts";
import { getProfile } from "../harness/stack/patroni/profiles.ts";
import { loadScenario } from "../harness/scenario/loader.ts";
import { runScenario } from "../harness/scenario/runner.ts";
import { Progress } from "../harness/report/progress.ts";
import { distribution, type Distribution } from "../harness/report/distribution.ts";
import { readHistory } from "../harness/history/reader.ts";
import type { HistoryEntry } from "../harness/history/types.ts";
import { abortOnSignals } from "../harness/util/signals.ts";
import { cli, interrupt, waitForOutput } from "../harness/e2e/cli-run.ts";
import { leftovers, NOTHING } from "../harness/testing/leftovers.ts";
import { sleep } from "../harness/util/wait.ts";

const { values: o } = parseArgs({
  options: {
    clusters: { type: "string", default: "5" },
    kills: { type: "string", default: "5" },
    interrupts: { type: "string", default: "3" },
    profile: { type: "string", default: "fast" },
    workshop: { type: "boolean" },
    platforms: { type: "string" },
    resets: { type: "string", default: "5" },
    idle: { type: "string", default: "30" },
  },
});
const ROOT = resolve(import.meta.dirname, "..");
localPreflight();
if (o.platforms) {
  const { benchPlatforms } = await import("./bench-platforms.ts");
  await benchPlatforms(o.platforms.split(","), Number(o.kills));
  process.exit(0);
}
if (o.workshop) {
  const { benchWorkshop } = await import("./bench-workshop.ts");
  await benchWorkshop({ resets: Number(o.resets), idleS: Number(o.idle) });
  process.exit(0);
}

/** Writes per second the probe achieved while the cluster was healthy (warm-up, before the first fault). */
function steadyRate(h: HistoryEntry[]): number {
  const phaseAt = (name: string) => h.find((e) => e.f === "phase" && (e.value as { phase: string }).phase.startsWith(name))?.time;
  const from = phaseAt("warm-up")!;
  const to = phaseAt("fault")!;
  const n = h.filter((e) => e.f === "write" && e.type === "ok" && e.time >= from && e.time < to).length;
  return n / ((to - from) / 1000);
}

const rows: Array<{ name: string; unit: string; d: Distribution | undefined }> = [];
const add = (name: string, unit: string, xs: number[]) => rows.push({ name, unit, d: distribution(xs.map((x) => Math.round(x * 10) / 10)) });

const scratch = mkdtempSync(join(tmpdir(), "pgchaos-bench-"));
// Ctrl-C stops the benchmark after tearing down what it runs (a deploy under way finishes first), writing nothing.
const signal = abortOnSignals();
const stopIfAsked = () => {
  if (!signal.aborted) return;
  rmSync(scratch, { recursive: true, force: true });
  process.stderr.write("benchmark interrupted; reports/BENCHMARKS.md left as it was\n");
  process.exit(130);
};
const cacheAtStart = cachedInitdbOutputs().length > 0;
const ready: number[] = [];
const teardown: number[] = [];
for (let i = 0; i < Number(o.clusters); i++) {
  const t0 = performance.now();
  const c = await LocalCluster.deploy({ name: "bench", nodes: 3, profile: getProfile(o.profile!), runDir: join(scratch, `c${i}`), logger: pino({ level: "silent" }) });
  ready.push(performance.now() - t0);
  teardown.push((await c.teardown()).ms);
  stopIfAsked();
  process.stderr.write(`cluster ${i + 1}: ready ${Math.round(ready.at(-1)!)} ms, teardown ${Math.round(teardown.at(-1)!)} ms\n`);
}
add("cluster ready (deploy to leader + 2 streaming)", "ms", ready);
add("teardown", "ms", teardown);

const scenario = await loadScenario("primary-kill");
const wall: number[] = [];
const unavailable: number[] = [];
const newPrimary: number[] = [];
const rate: number[] = [];
const lost: number[] = [];
const indeterminate: number[] = [];
for (let i = 0; i < Number(o.kills); i++) {
  const t0 = performance.now();
  const r = await runScenario({ scenario, profile: o.profile, outDir: join(scratch, "runs"), signal, progress: new Progress(process.stderr, true) });
  stopIfAsked();
  wall.push((performance.now() - t0) / 1000);
  const f = r.verdict.checks.failover!;
  unavailable.push(f.writeUnavailableMs as number);
  if (typeof f.timeToNewPrimaryMs === "number") newPrimary.push(f.timeToNewPrimaryMs);
  lost.push(r.verdict.checks.dataLoss!.lost as number);
  indeterminate.push(r.verdict.checks.dataLoss!.indeterminate as number);
  rate.push(steadyRate(await readHistory(join(r.runDir, "history.jsonl"))));
  process.stderr.write(`primary-kill ${i + 1}: ${r.verdict.valid} in ${wall.at(-1)!.toFixed(1)} s, writes unavailable ${f.writeUnavailableMs} ms\n`);
}
add("primary-kill wall time (whole scenario)", "s", wall);
add("primary-kill write unavailability", "ms", unavailable);
add("primary-kill time to new primary writable", "ms", newPrimary);
add("primary-kill lost acknowledged writes", "writes", lost);
add("primary-kill indeterminate writes", "writes", indeterminate);
add(`write probe achieved rate, healthy cluster (target ${scenario.workload.writeIntervalMs} ms interval)`, "writes/s", rate);

/**
 * Ctrl-C at several moments of a primary-kill run: SIGINT to the CLI's process group, as a terminal sends it,
 * timed to the exit (130, every fault healed and everything removed).
 */
const MOMENTS: Array<{ name: string; reached: (child: ReturnType<typeof cli>) => Promise<void> }> = [
  { name: "deploy (2 s in)", reached: () => sleep(2000) },
  { name: "schema and warm-up (just after deploy)", reached: (c) => waitForOutput(c, /✓ deploy/, 90_000) },
  { name: "the kill fault (1.5 s after it)", reached: (c) => waitForOutput(c, /✓ warm-up/, 90_000).then(() => sleep(1500)) },
  { name: "recovery (just after the heal)", reached: (c) => waitForOutput(c, /✓ fault/, 120_000) },
];
const interrupted: Record<string, number[]> = {};
for (const m of MOMENTS) {
  interrupted[m.name] = [];
  for (let i = 0; i < Number(o.interrupts); i++) {
    const child = cli(["primary-kill", "--profile", o.profile!, "--out", join(scratch, "interrupted")]);
    await m.reached(child);
    const { ms, result } = await interrupt(child);
    stopIfAsked();
    if (result.exitCode !== 130) throw new Error(`Ctrl-C during ${m.name}: exit ${result.exitCode}, not 130:\n${result.all}`);
    const left = await leftovers();
    if (JSON.stringify(left) !== JSON.stringify(NOTHING)) throw new Error(`Ctrl-C during ${m.name} left ${JSON.stringify(left)}`);
    interrupted[m.name]!.push(ms);
    process.stderr.write(`Ctrl-C during ${m.name}: exit 130 after ${Math.round(ms)} ms, nothing left\n`);
  }
  add(`Ctrl-C to exit 130, during ${m.name}`, "ms", interrupted[m.name]!);
}
rmSync(scratch, { recursive: true, force: true });

const version = (cmd: string, args: string[]) => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" }).split("\n")[0]!.trim();
  } catch {
    return "?";
  }
};
const fmt = (d: Distribution | undefined, k: keyof Distribution) => (d ? String(Math.round(d[k] * 10) / 10) : "-");
const md = `# Benchmarks

Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, profile \`${o.profile}\`, on the local platform
(3 nodes, one network namespace each). Machine: ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()};
${version("patroni", ["--version"])}, ${version("etcd", ["--version"])}, ${version("/usr/lib/postgresql/15/bin/postgres", ["--version"])}, ${version("haproxy", ["-v"]).replace(/ - https.*/, "")}.

${Number(o.clusters)} cluster bring-ups and ${Number(o.kills)} \`primary-kill\` runs. Medians are the figures to quote; these machines are noisy.

| figure | unit | n | min | median | p95 | max |
| --- | --- | --- | --- | --- | --- | --- |
${rows.map((r) => `| ${r.name} | ${r.unit} | ${fmt(r.d, "n")} | ${fmt(r.d, "min")} | ${fmt(r.d, "median")} | ${fmt(r.d, "p95")} | ${fmt(r.d, "max")} |`).join("\n")}

What the figures mean:
- *cluster ready*: from nothing to etcd quorum, one Patroni leader and both replicas streaming (namespaces, bridge,
  etcd election, the bootstrap, both replicas made, the profile applied and checked on every member). The target is 4 s:
  ${ready.filter((x) => x <= 4000).length} of ${ready.length} bring-ups met it, and the median ${(distribution(ready)?.median ?? 0) <= 4000 ? "did" : "did not"}.
  ${cacheAtStart ? "The cached initdb output existed before the first bring-up." : "The first bring-up made the cached initdb output (initdb and more, once per machine)."}
  Where the time goes, read from the members' logs, and what was taken out of it (medians of each step before):
  etcd members start one after the other (each new etcd 3.4 member waited 1 s on every peer starting at the same
  instant: 2 s); initdb runs without its closing fsync; Patroni's one-second sleeps while PostgreSQL starts are
  replaced, during bring-up only, by the run's \`pg_isready\` asking every 20 ms (6.65 s to 4.2 s with those three).
  Then, during bring-up only, initdb's output comes from a cache and the replicas start from copies of it instead of
  base backups, the copies staged while etcd starts (harness/platform/local/pg-bin.ts): initdb's 1 to 1.8 s and the
  base backups' 0.6 to 1.7 s became a 0.2 s password step and renames. What is left, in order: the namespaces and
  etcd's sequential start (about 0.45 s), etcd's first election (randomised: 0.1 to 1 s, most of the spread),
  Patroni's start (about 0.6 s of Python once etcd has quorum; started during the election it can read a
  half-started member's answer as garbage and sleep 5 s), the bootstrap (copy, password, PostgreSQL's start,
  post_bootstrap: about 0.75 s), the replicas' start and their wait for the leader's next HA cycle to make their
  slots (about 0.9 s), Patroni's next cycle reporting them (0.3 s), and the profile put in place (0.25 s).
  After the bring-up every program is PostgreSQL's own: no fault, rejoin or recovery a scenario times sees these.
- *teardown*: SIGKILL of every process, shared memory, namespaces, links, iptables rule and data removed.
- *Ctrl-C to exit*: SIGINT to the CLI's process group (a terminal's Ctrl-C) at that moment of a \`primary-kill\` run,
  to its exit with code 130; after each one the leftovers check (namespaces, links, rules, processes, work folders,
  state files, postgres's shared memory) found nothing.
- *primary-kill wall time*: the whole scenario: deploy, 3 s warm-up, kill, ${(scenario.schedule[0]!.holdMs as Record<string, number>)[o.profile!] ?? "?"} ms until the node restarts, recovery, 2 s cool-down,
  final read, teardown.
- *write unavailability*: last acknowledged write before the kill to the first one after it, as the probe saw it
  through haproxy.
- *write probe rate*: acknowledged inserts per second while the cluster was healthy (one connection, one insert at a
  time, synchronous_commit on).
`;
// The workshop's section (`--workshop`) is measured apart: keep it.
const previous = existsSync(join(ROOT, "reports", "BENCHMARKS.md")) ? readFileSync(join(ROOT, "reports", "BENCHMARKS.md"), "utf8") : "";
const kept = ["\n## Platforms side by side", "\n## Workshop"].map((h) => previous.indexOf(h)).filter((i) => i >= 0);
const workshopSection = kept.length > 0 ? previous.slice(Math.min(...kept)) : "";
writeFileSync(join(ROOT, "reports", "BENCHMARKS.md"), md + workshopSection);
process.stdout.write(md);
