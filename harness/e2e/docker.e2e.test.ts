/**
 * The docker platform through the CLI, as a user runs it: primary-kill to a valid verdict, and Ctrl-C during the fault
 * leaving no container, network or volume of ours (nor the dockerd a run started). Skipped where Docker cannot run.
 */
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, interrupt, readableCheckout, waitForOutput } from "./cli-run.ts";
import { skipClusterTests } from "../testing/leftovers.ts";
import { DOCKERD, OWN_DAEMON, answers, ensureDaemon, execRootMounts, type Daemon } from "../platform/docker/daemon.ts";
import { DOCKER } from "../platform/image.ts";
import { LABEL_RUN, WORK_ROOT } from "../platform/docker/cluster.ts";
import { processesMentioning } from "../platform/local/procs.ts";

const skip = skipClusterTests() || (!existsSync(DOCKERD) && !process.env.DOCKER_HOST && !process.env.CI);

/** Every container, network and volume carrying a pgchaos run label. */
async function ours(d: Daemon): Promise<string[]> {
  const out: string[] = [];
  for (const kind of ["ps -a", "network ls", "volume ls"]) {
    const r = await execa(DOCKER, ["-H", d.host, ...kind.split(" "), "-q", "--filter", `label=${LABEL_RUN}`]);
    out.push(...r.stdout.split("\n").filter(Boolean).map((id) => `${kind}: ${id}`));
  }
  // And on this machine: haproxy, the probes, the run's folder.
  out.push(...processesMentioning(WORK_ROOT).map((pid) => `process ${pid}`));
  if (existsSync(WORK_ROOT)) out.push(...readdirSync(WORK_ROOT).map((d) => `folder ${d}`));
  return out;
}

describe.skipIf(skip)("the docker platform through the CLI", () => {
  let daemon: Daemon;
  // The runs' reports, removed with the file's tests.
  let out = "";
  // One daemon for the file (each run would otherwise start and stop its own); stopped at the end if it is ours.
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "pgchaos-e2e-docker-"));
    daemon = await ensureDaemon();
  }, 120_000);
  afterAll(async () => {
    if (out) rmSync(out, { recursive: true, force: true });
    await daemon?.stop();
    if (daemon?.ours) {
      expect(await answers(OWN_DAEMON.socket)).toBe(false);
      expect(execRootMounts()).toEqual([]);
    }
  }, 60_000);

  it("primary-kill gives a valid verdict and leaves nothing", { timeout: 600_000 }, async () => {
    const r = await cli(["primary-kill", "--platform", "docker", "--out", out], { env: { DOCKER_HOST: daemon.host } });
    expect(r.all).toMatch(/primary-kill on docker with patroni@3\.0\.2, profile fast: PASS/);
    expect(r.exitCode).toBe(0);
    expect(await ours(daemon)).toEqual([]);
  });

  it("Ctrl-C during the fault exits 130 within seconds and leaves no container, network or volume", { timeout: 300_000 }, async () => {
    const child = cli(["primary-kill", "--platform", "docker", "--out", out], { env: { DOCKER_HOST: daemon.host } });
    await waitForOutput(child, "fault: kill primary", 120_000);
    await new Promise((r) => setTimeout(r, 2000));
    const { ms, result } = await interrupt(child);
    expect(result.exitCode).toBe(130);
    expect(ms).toBeLessThan(10_000);
    expect(await ours(daemon)).toEqual([]);
  });

  /**
   * What Docker Desktop users and users without root get: forward reach (reach.ts). Run here as `nobody`, whose only
   * right is the Docker socket (group access for the test's length), from a checkout it can read.
   */
  it("a user without root runs primary-kill to a valid verdict through docker exec alone, and Ctrl-C leaves nothing", { timeout: 600_000 }, async (ctx) => {
    if (daemon.socket !== OWN_DAEMON.socket) ctx.skip(); // Only pgchaos's own daemon is ours to open to another user.
    const checkout = readableCheckout();
    const home = mkdtempSync(join(tmpdir(), "pgchaos-nobody-"));
    chownSync(home, 65534, 65534);
    // nobody gets through the socket's folders and into the socket by its group; all put back afterwards.
    const opened = [dirname(dirname(daemon.socket)), dirname(daemon.socket)].map((d) => ({ d, mode: statSync(d).mode & 0o7777 }));
    const socketGid = statSync(daemon.socket).gid;
    for (const { d, mode } of opened) chmodSync(d, mode | 0o111);
    chownSync(daemon.socket, 0, 65534);
    const asNobody = (args: string[]) =>
      execa("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "node", "--import", "tsx", "harness/cli.ts", "scenario", ...args], {
        cwd: checkout,
        reject: false,
        all: true,
        detached: true,
        timeout: 300_000,
        env: { PATH: process.env.PATH!, HOME: home, DOCKER_HOST: daemon.host },
        extendEnv: false,
      });
    try {
      const r = await asNobody(["primary-kill", "--platform", "docker", "--out", join(home, "reports")]);
      // A FAIL may be Patroni's truth (an asynchronous replica promoted without the last write): the run directory goes
      // with this test's folder, so the evidence is printed first, the writes around each lost one and the kill.
      if (!/profile fast: PASS/.test(r.all ?? "")) printLossEvidence(/run directory: (\S+)/.exec(r.all ?? "")?.[1]);
      expect(r.all).toMatch(/primary-kill on docker with patroni@3\.0\.2, profile fast: PASS/);
      expect(r.exitCode).toBe(0);
      const runDir = /run directory: (\S+)/.exec(r.all ?? "")![1]!;
      expect(JSON.parse(readFileSync(join(runDir, "scenario.json"), "utf8"))).toMatchObject({ settings: { reach: "forward" } });
      expect(await ours(daemon)).toEqual([]);
      const child = asNobody(["primary-kill", "--platform", "docker", "--out", join(home, "reports")]);
      await waitForOutput(child, "fault: kill primary", 120_000);
      const { ms, result } = await interrupt(child);
      expect(result.exitCode).toBe(130);
      expect(ms).toBeLessThan(10_000);
      expect(await ours(daemon)).toEqual([]);
    } finally {
      chownSync(daemon.socket, 0, socketGid);
      for (const { d, mode } of opened) chmodSync(d, mode);
      rmSync(checkout, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("--cleanup --platform docker removes what a killed run left", { timeout: 300_000 }, async () => {
    const child = cli(["primary-kill", "--platform", "docker", "--out", out], { env: { DOCKER_HOST: daemon.host } });
    await waitForOutput(child, "warm-up", 120_000);
    process.kill(-child.pid!, "SIGKILL");
    await child;
    expect((await ours(daemon)).length).toBeGreaterThan(0);
    const r = await cli(["--cleanup", "--platform", "docker"], { env: { DOCKER_HOST: daemon.host } });
    expect(r.stdout).toMatch(/removed run \w+: \d+ containers, 1 networks, 3 volumes/);
    expect(await ours(daemon)).toEqual([]);
  });
});

/** The history around each lost write of a failed run (verdict.json's lostIds), and the fault's events, on stderr. */
function printLossEvidence(runDir: string | undefined): void {
  if (!runDir) return;
  try {
    const verdict = JSON.parse(readFileSync(join(runDir, "verdict.json"), "utf8")) as { checks?: { dataLoss?: { lostIds?: number[] } } };
    const history = readFileSync(join(runDir, "history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { index: number; process: string; f: string; value: unknown });
    const lost = new Set(verdict.checks?.dataLoss?.lostIds ?? []);
    const at = history.filter((e) => (e.process === "writer" && lost.has(e.value as number)) || e.f === "fault").map((e) => e.index);
    const near = history.filter((e) => at.some((i) => Math.abs(e.index - i) <= 6) && (e.process === "writer" || e.process === "nemesis"));
    console.warn(`evidence of ${runDir}: lost ${[...lost].join(", ") || "none"}\n${near.map((e) => JSON.stringify(e)).join("\n")}`);
  } catch (e) {
    console.warn(`could not read the evidence of ${runDir}: ${(e as Error).message}`);
  }
}
