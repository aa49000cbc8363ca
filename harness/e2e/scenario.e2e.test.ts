import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { cli, interrupt, privateCheckout, ROOT, waitForOutput } from "./cli-run.ts";
import { leftovers, NOTHING, skipClusterTests } from "../testing/leftovers.ts";
import { readHistory } from "../history/reader.ts";
import { WORK_ROOT } from "../platform/local/state.ts";
import type { FaultEventValue } from "../history/types.ts";

function onlyRunDir(out: string, scenario: string): string {
  const dirs = readdirSync(join(out, scenario)).filter((d) => !d.startsWith("repeat-"));
  expect(dirs).toHaveLength(1);
  return join(out, scenario, dirs[0]!);
}

describe.skipIf(skipClusterTests())("scenarios end to end through the CLI", () => {
  let out: string;
  let checkout: string;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "pgchaos-e2e-"));
    checkout = privateCheckout();
    // Strays of an earlier crashed run on this machine would make the leftover assertions meaningless.
    await cli(["--cleanup"]);
    expect(await leftovers()).toEqual(NOTHING);
  });
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(checkout, { recursive: true, force: true });
  });

  it("primary-kill from a checkout in a private (0700) folder: a replica takes over, no acknowledged write is lost, nothing is left behind", async () => {
    // Run as a user who cloned into root's home would: from the checkout, writing into its reports/.
    const r = await cli(["primary-kill"], { cwd: checkout });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain("PASS");
    const runDir = onlyRunDir(join(checkout, "reports"), "primary-kill");
    for (const f of ["scenario.json", "history.jsonl", "final.json", "verdict.json", "harness.log"]) {
      expect(existsSync(join(runDir, f)), f).toBe(true);
    }
    for (const n of ["n1", "n2", "n3"]) {
      expect(existsSync(join(runDir, "logs", n, "patroni.log"))).toBe(true);
      expect(existsSync(join(runDir, "logs", n, "postgresql.log"))).toBe(true);
    }
    const v = JSON.parse(readFileSync(join(runDir, "verdict.json"), "utf8"));
    expect(v).toMatchObject({ scenario: "primary-kill", platform: "local", profile: "fast", valid: true });
    expect(v.settings).toMatchObject({ ttl: 10, loop_wait: 1, retry_timeout: 4 });
    const f = v.checks.failover;
    expect(f.valid).toBe(true);
    expect(f.oldPrimary).toMatch(/^n\d$/);
    expect(f.newPrimary).toMatch(/^n\d$/);
    expect(f.newPrimary).not.toBe(f.oldPrimary);
    expect(f.writeUnavailableMs).toBeGreaterThan(0);
    expect(v.checks.dataLoss).toMatchObject({ valid: true, lost: 0 });
    expect(v.checks.dataLoss.acknowledged).toBeGreaterThan(100);
    expect(typeof v.checks.dataLoss.indeterminate).toBe("number");
    expect(v.checks.divergence.valid).toBe(true);
    expect(v.checks.recovery.valid).toBe(true);

    const history = await readHistory(join(runDir, "history.jsonl"));
    const faults = history.filter((e) => e.f === "fault").map((e) => e.value as FaultEventValue);
    expect(faults.map((x) => x.phase)).toEqual(["inject", "heal"]);
    expect(faults[0]!.nodes).toEqual([f.oldPrimary]);
    // Every ok write names the node that served it and its timeline.
    for (const e of history.filter((x) => x.f === "write" && x.type === "ok")) {
      expect(e.node).toMatch(/^n\d$/);
      expect(e.timeline).toBeGreaterThanOrEqual(1);
    }
    expect(await leftovers()).toEqual(NOTHING);

    // The stored run can be re-checked from its directory alone, with the same figures.
    const again = await cli(["--recheck", runDir]);
    expect(again.exitCode, again.all).toBe(0);
    const v2 = JSON.parse(readFileSync(join(runDir, "verdict.json"), "utf8"));
    expect(v2.checks.failover.writeUnavailableMs).toBe(f.writeUnavailableMs);
    expect(v2.checks.dataLoss.acknowledged).toBe(v.checks.dataLoss.acknowledged);
  }, 180_000);

  it("a work folder closed to the postgres user stops the run at once, naming the folder", async () => {
    const closed = mkdtempSync(join(tmpdir(), "pgchaos-closed-"));
    try {
      const t0 = performance.now();
      const r = await cli(["switchover", "--out", out], { env: { PGCHAOS_WORK_ROOT: join(closed, "work") } });
      expect(r.exitCode, r.all).toBe(2);
      expect(r.stderr).toContain(`the postgres user cannot write into ${join(closed, "work")}`);
      expect(r.stderr).toMatch(/the folder .*pgchaos-closed-\w+ \(mode 0700, owner uid 0\) is closed to it/);
      expect(performance.now() - t0).toBeLessThan(30_000);
      expect(await leftovers()).toEqual(NOTHING);
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  }, 60_000);

  // Ctrl-C from a terminal reaches the whole process group; from any phase the run must heal, remove
  // everything and exit 130 within seconds (the bound here is generous; npm run bench measures it).
  it("Ctrl-C during the deploy and right after it (schema, warm-up) exits 130 within seconds, leaving nothing", async () => {
    for (const [phase, reached] of [
      ["deploy", () => new Promise<void>((r) => setTimeout(r, 2000))],
      ["schema", (child: ReturnType<typeof cli>) => waitForOutput(child, /✓ deploy/, 90_000)],
    ] as const) {
      const child = cli(["primary-kill", "--out", out]);
      await reached(child);
      const { ms, result } = await interrupt(child);
      expect(result.exitCode, `${phase}: ${result.all}`).toBe(130);
      expect(ms, `Ctrl-C during ${phase} took ${Math.round(ms)} ms`).toBeLessThan(10_000);
      expect(await leftovers(), phase).toEqual(NOTHING);
    }
  }, 180_000);

  it("Ctrl-C during a fault heals it, tears everything down and exits 130", async () => {
    const child = cli(["primary-kill", "--out", out, "--profile", "default"]);
    await waitForOutput(child, /✓ warm-up/, 90_000);
    await new Promise((r) => setTimeout(r, 1500));
    const { ms, result: r } = await interrupt(child);
    expect(r.exitCode, r.all).toBe(130);
    expect(ms).toBeLessThan(10_000);
    expect(r.stderr).toContain("interrupted");
    expect(await leftovers()).toEqual(NOTHING);
    // The newest interrupted run: the earlier Ctrl-C tests interrupted runs of the same scenario in `out`.
    const runs = readdirSync(join(out, "primary-kill")).sort().map((d) => join(out, "primary-kill", d));
    const runDir = runs.filter((d) => JSON.parse(readFileSync(join(d, "verdict.json"), "utf8")).run.interrupted).at(-1)!;
    const history = await readHistory(join(runDir, "history.jsonl"));
    const phases = history.filter((e) => e.f === "fault").map((e) => (e.value as FaultEventValue).phase);
    expect(phases).toEqual(["inject", "heal"]);
  }, 180_000);

  for (const [scenario, what] of [
    ["primary-pause", "paused processes"],
    ["primary-isolate", "iptables rules"],
  ] as const) {
    it(`Ctrl-C while ${scenario} holds its fault leaves no ${what} behind`, async () => {
      const child = cli([scenario, "--out", out]);
      await waitForOutput(child, /✓ warm-up/, 90_000);
      await new Promise((r) => setTimeout(r, 2000));
      const { ms, result: r } = await interrupt(child);
      expect(r.exitCode, r.all).toBe(130);
      expect(ms).toBeLessThan(10_000);
      // leftovers() lists every process of ours, stopped ones included, and every tagged rule.
      expect(await leftovers()).toEqual(NOTHING);
      const stopped = (await execa("ps", ["-eo", "stat=,args="])).stdout.split("\n").filter((l) => /^T/.test(l) && /patroni|postgres|etcd/.test(l));
      expect(stopped).toEqual([]);
    }, 180_000);
  }

  it("disaster-recovery: a backup, every member's data lost, a restore from the repository and one to a point in time, with the recovery point and restore time in the verdict", async () => {
    const r = await cli(["disaster-recovery", "--out", out]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/recoveryPoint +PASS +restore lost [\d.]+ s of acknowledged writes/);
    const runDir = onlyRunDir(out, "disaster-recovery");
    const v = JSON.parse(readFileSync(join(runDir, "verdict.json"), "utf8"));
    expect(v.valid, JSON.stringify(v.checks, null, 1)).toBe(true);
    expect(v.settings.backups).toMatchObject({ stanza: "pgchaos" });
    const rp = v.checks.recoveryPoint;
    // The restore brought back writes from before the disaster and replayed the archive into its last segment.
    expect(rp.recoveryPointId).toBeGreaterThan(0);
    expect(rp.recoveryPointMs).toBeGreaterThanOrEqual(0);
    expect(rp.archiveEnd).toMatch(/^[0-9A-F]{24}$/);
    expect(rp.restoredToLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(rp.restoreMs).toBeGreaterThan(0);
    expect(rp.restoreReadyMs).toBeGreaterThan(0);
    expect(rp.backup).toMatchObject({ label: expect.stringMatching(/F$/) });
    expect(v.checks.pointInTime).toMatchObject({ valid: true });
    expect(v.checks.pointInTime.rows).toBeGreaterThan(0);
    expect(v.checks.dataLoss).toMatchObject({ valid: true, lost: 0 });
    // The restored cluster is on a new timeline, every member streaming from the restored leader.
    expect(v.checks.divergence.valid).toBe(true);
    expect(existsSync(join(runDir, "logs", "pitr", "postgresql.log"))).toBe(true);
    expect(readFileSync(join(runDir, "logs", v.checks.failover.newPrimary, "patroni.log"), "utf8")).toMatch(/Running custom bootstrap script: \S*pgbackrest .*restore/);
    expect(await leftovers()).toEqual(NOTHING);
  }, 240_000);

  it("Ctrl-C while the point-in-time restore's scratch instance runs stops it, tears everything down and exits 130", async () => {
    const child = cli(["disaster-recovery", "--out", out]);
    await waitForOutput(child, /✓ fault: full backup/, 120_000);
    // The scratch instance's postmaster.pid, once the cluster is back: <work root>/<run id>/pitr/data/postmaster.pid.
    const scratchRunning = () => readdirSync(WORK_ROOT).some((id) => existsSync(join(WORK_ROOT, id, "pitr", "data", "postmaster.pid")));
    const t0 = Date.now();
    while (!scratchRunning()) {
      expect(Date.now() - t0, "the scratch instance never started").toBeLessThan(90_000);
      await new Promise((r) => setTimeout(r, 50));
    }
    const { ms, result: r } = await interrupt(child);
    expect(r.exitCode, r.all).toBe(130);
    expect(ms).toBeLessThan(10_000);
    expect(await leftovers()).toEqual(NOTHING);
  }, 240_000);

  it("a run killed with SIGKILL leaves things behind that --cleanup removes", async () => {
    const child = cli(["switchover", "--out", out]);
    await waitForOutput(child, /✓ deploy/, 90_000);
    child.kill("SIGKILL");
    await child;
    const left = await leftovers();
    expect(left.netns.length).toBeGreaterThan(0);
    expect(left.processes.length).toBeGreaterThan(0);
    const r = await cli(["--cleanup"]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/cleaned 1 run/);
    expect(await leftovers()).toEqual(NOTHING);
  }, 180_000);

  it("refuses to run without root, saying why", async () => {
    const r = await execa("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "node", "--import", "tsx", "harness/cli.ts", "scenario", "switchover", "--out", out], {
      cwd: ROOT,
      reject: false,
      env: { HOME: "/tmp" },
    });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/needs root/);
  }, 60_000);
});
