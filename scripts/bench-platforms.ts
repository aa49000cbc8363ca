/**
 * Local and docker side by side, written into reports/BENCHMARKS.md's "Platforms side by side" section: cluster ready
 * time, teardown and primary-kill's write unavailability, from the same number of primary-kill runs on each platform,
 * interleaved (local, docker, local, ...) so that the machine's noise falls on both alike.
 *
 *   npm run bench -- --platforms local,docker[,docker:forward] [--kills N]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { loadScenario } from "../harness/scenario/loader.ts";
import { runScenario } from "../harness/scenario/runner.ts";
import { Progress } from "../harness/report/progress.ts";
import { distribution, type Distribution } from "../harness/report/distribution.ts";
import { abortOnSignals } from "../harness/util/signals.ts";
import { ensureDaemon } from "../harness/platform/docker/daemon.ts";
import { ensureImage } from "../harness/platform/image.ts";

const ROOT = resolve(import.meta.dirname, "..");

export async function benchPlatforms(platforms: string[], kills: number): Promise<void> {
  const signal = abortOnSignals();
  // One Docker daemon for the whole benchmark, and the image built before the clock starts.
  const daemon = platforms.some((p) => p.startsWith("docker")) ? await ensureDaemon(signal) : undefined;
  if (daemon) {
    process.env.DOCKER_HOST = daemon.host;
    await ensureImage(daemon.host, (l) => process.stderr.write(`${l}\n`), signal);
  }
  const scenario = await loadScenario("primary-kill");
  const scratch = mkdtempSync(join(tmpdir(), "pgchaos-bench-platforms-"));
  const figures: Record<string, { ready: number[]; teardown: number[]; unavailable: number[]; rate: number[]; valid: number }> = {};
  try {
    for (let i = 0; i < kills; i++) {
      for (const platform of platforms) {
        const f = (figures[platform] ??= { ready: [], teardown: [], unavailable: [], rate: [], valid: 0 });
        // `docker:forward` is the docker platform in forward reach (docker/reach.ts), as Docker Desktop runs it.
        const [name, reach] = platform.split(":") as [string, string | undefined];
        if (reach) process.env.PGCHAOS_DOCKER_REACH = reach;
        const r = await runScenario({ scenario, platform: name, outDir: join(scratch, platform.replace(":", "-")), signal, progress: new Progress(process.stderr, true) }).finally(() => {
          if (reach) delete process.env.PGCHAOS_DOCKER_REACH;
        });
        const phase = (name: string) => r.verdict.run.phases.find((p) => p.name === name)?.ms;
        f.ready.push(phase("deploy") ?? NaN);
        f.teardown.push(phase("teardown") ?? NaN);
        f.unavailable.push(r.verdict.checks.failover!.writeUnavailableMs as number);
        f.rate.push(r.verdict.run.writes.ratePerSec * 1000);
        if (r.verdict.valid === true) f.valid++;
        process.stderr.write(`${platform} ${i + 1}: ${r.verdict.valid}, deploy ${Math.round(f.ready.at(-1)!)} ms, writes unavailable ${f.unavailable.at(-1)} ms\n`);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    if (daemon?.ours) await daemon.stop();
  }
  const cell = (d: Distribution | undefined) => (d ? `${(d.median / 1000).toFixed(2)} (${(d.min / 1000).toFixed(2)} to ${(d.max / 1000).toFixed(2)})` : "–");
  const row = (name: string, key: "ready" | "teardown" | "unavailable" | "rate") => `| ${name} | ${platforms.map((p) => cell(distribution(figures[p]![key].filter(Number.isFinite)))).join(" | ")} |`;
  const section = `## Platforms side by side

Measured by \`npm run bench -- --platforms ${platforms.join(",")} --kills ${kills}\` on ${new Date().toISOString().slice(0, 10)}: ${kills} \`primary-kill\` runs per
platform, interleaved, profile \`fast\`, Patroni 3.0.2 (Debian 12's, in the docker image too), on ${cpus().length} cores and ${Math.round(totalmem() / 2 ** 30)} GiB.
Seconds, median (min to max).

| figure | ${platforms.join(" | ")} |
| --- | ${platforms.map(() => "---").join(" | ")} |
${row("cluster ready (the deploy phase)", "ready")}
${row("teardown", "teardown")}
${row("primary-kill: writes unavailable", "unavailable")}
${row("write probe: writes per second (not seconds)", "rate")}
| valid verdicts | ${platforms.map((p) => `${figures[p]!.valid} of ${kills}`).join(" | ")} |

On docker each member is two containers (a machine holding the network namespace and etcd, a pod with Patroni and
PostgreSQL in its network) on an internal network of the run. In direct reach (\`docker\`) haproxy and the probes run on
this machine as on the local platform, so the write path is the same; in forward reach (\`docker:forward\`, what Docker
Desktop and users without root get) haproxy runs in a clients container and every connection of the harness is a
\`docker exec\` of a relay, which slows the write probe and stretches each reconnect. The Docker daemon is started once
for the benchmark, and the image was built before it (60 s from nothing here: debootstrap, then Debian's packages).
`;
  const file = join(ROOT, "reports", "BENCHMARKS.md");
  const old = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const start = old.indexOf("\n## Platforms side by side");
  const kept = start < 0 ? old : old.slice(0, start) + (old.indexOf("\n## ", start + 5) >= 0 ? old.slice(old.indexOf("\n## ", start + 5)) : "");
  const at = kept.indexOf("\n## Workshop");
  const out = at >= 0 ? `${kept.slice(0, at).trimEnd()}\n\n${section}${kept.slice(at)}` : `${kept.trimEnd()}\n\n${section}`;
  writeFileSync(file, out);
  process.stdout.write(section);
}
