/**
 * The workshop's figures, written into reports/BENCHMARKS.md's "Workshop" section: how long a reset takes (heal, tear
 * down, deploy again, the exercise started over), and what one learner's cluster costs at rest and during a failover
 * (CPU and memory of every process of it, the workshop's own included), hence how many learners fit per core.
 *
 *   npm run bench -- --workshop [--resets N] [--idle S]
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { Workshop } from "../harness/workshop/workshop.ts";
import { EXERCISES } from "../harness/workshop/exercises/index.ts";
import { distribution } from "../harness/report/distribution.ts";
import { processesMentioning, withDescendants } from "../harness/platform/local/procs.ts";
import { abortOnSignals } from "../harness/util/signals.ts";
import { sleep } from "../harness/util/wait.ts";
import { leftovers, NOTHING } from "../harness/testing/leftovers.ts";

const ROOT = resolve(import.meta.dirname, "..");
const TICK = 100; // USER_HZ on Linux

export async function benchWorkshop(opts: { resets: number; idleS: number }): Promise<void> {
  const signal = abortOnSignals();
  const w = new Workshop({ profile: "fast", outDir: "/tmp/pgchaos-bench-workshop", signal, say: (l) => process.stderr.write(`${l}\n`) });
  const kill = EXERCISES.findIndex((e) => e.id === "kill-primary");
  const resets: number[] = [];
  let idle: { cores: number; rssMiB: number; processes: number } | undefined;
  let failover: { cores: number } | undefined;
  try {
    await w.begin(kill);
    // What one learner's cluster costs: every process of the run (etcd, Patroni, PostgreSQL and its backends, haproxy,
    // the probes) and the workshop process itself (page, sampler, write probe).
    const workDir = () => (w.live as unknown as { workDir: string }).workDir;
    const pids = () => [...new Set([...withDescendants(processesMentioning(workDir())), process.pid])];
    const cpuTicks = (ps: number[]) => ps.reduce((sum, pid) => sum + ticksOf(pid), 0);
    const measure = async (seconds: number) => {
      const ps = pids();
      const c0 = cpuTicks(ps);
      const t0 = performance.now();
      await sleep(seconds * 1000, signal);
      const cores = (cpuTicks(ps) - c0) / TICK / ((performance.now() - t0) / 1000);
      return { cores, rssMiB: ps.reduce((s, p) => s + rssOf(p), 0) / 1024, processes: ps.length };
    };
    await sleep(2000, signal);
    idle = await measure(opts.idleS);
    process.stderr.write(`at rest: ${idle.cores.toFixed(2)} cores, ${Math.round(idle.rssMiB)} MiB, ${idle.processes} processes\n`);
    await w.kill("primary");
    failover = await measure(20);
    process.stderr.write(`during a kill and failover: ${failover.cores.toFixed(2)} cores\n`);
    for (let i = 0; i < opts.resets; i++) {
      if (i % 2 === 1) await w.kill("primary"); // every other reset heals a fault first
      const r = await w.reset();
      resets.push(r.ms / 1000);
      process.stderr.write(`reset ${i + 1}: ${(r.ms / 1000).toFixed(2)} s\n`);
    }
  } finally {
    await w.close();
  }
  const left = await leftovers();
  if (JSON.stringify(left) !== JSON.stringify(NOTHING)) throw new Error(`the benchmark left ${JSON.stringify(left)}`);
  const d = distribution(resets)!;
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const perCore = (c: number) => Math.max(1, Math.floor(1 / c));
  const section = `## Workshop

Measured by \`npm run bench -- --workshop\` on ${new Date().toISOString().slice(0, 10)}, profile \`fast\`, Patroni 3.0.2, on ${cpus().length} cores and ${Math.round(totalmem() / 2 ** 30)} GiB.

- *reset* (\`ws reset\`: faults healed, the cluster torn down, a new one deployed, probes started, the exercise started
  over with the cluster whole): median ${r1(d.median)} s over ${d.n} resets (min ${r1(d.min)}, max ${r1(d.max)}); every other one
  with the primary killed first. The target is under 10 s.
- *one learner's cluster at rest* (3 members, the write probe at 10 writes/s, the 3 in-namespace probes, the page's
  sampler; ${idle!.processes} processes, the workshop's own included): ${idle!.cores.toFixed(2)} of a core over ${opts.idleS} s, ${Math.round(idle!.rssMiB)} MiB resident
  (shared pages counted in each process).
- *during a kill of the primary and the failover* (20 s): ${failover!.cores.toFixed(2)} of a core.
- So about ${perCore(idle!.cores)} learners' clusters per core while they read, and ${perCore(failover!.cores)} while they all kill a primary at the
  same moment (a projector-led class does); plan for the smaller, and for ${Math.round(idle!.rssMiB)} MiB each. These are derived from one
  cluster's own consumption, not from running that many at once.
`;
  const file = join(ROOT, "reports", "BENCHMARKS.md");
  const old = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const at = old.indexOf("\n## Workshop");
  writeFileSync(file, `${(at >= 0 ? old.slice(0, at) : old).trimEnd()}\n\n${section}`);
  process.stdout.write(section);
}

function ticksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime, stime
  } catch {
    return 0;
  }
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
