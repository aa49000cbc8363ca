import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "./cli-run.ts";

describe("CLI usage errors exit 2 with a message that says how to fix them", () => {
  it("unknown scenario lists the available ones", async () => {
    const r = await cli(["primary-kil"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown scenario "primary-kil"/);
    expect(r.stderr).toContain("primary-kill");
    expect(r.stderr).toContain("--list");
  });

  it("unknown profile names the valid ones", async () => {
    const r = await cli(["primary-kill", "--profile", "turbo"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown profile "turbo".*default, fast|fast, default/);
  });

  it("a fault the stack cannot do is refused before deploy, with the reason", async () => {
    const kill = await cli(["patroni-kill", "--stack", "pg_auto_failover"]);
    expect(kill.exitCode).toBe(2);
    expect(kill.stderr).toMatch(/patroni-kill fault \(killing the HA agent alone\) needs "agent-process", which pg_auto_failover does not have/);
    const etcd = await cli(["etcd-quorum-loss", "--stack", "pg_auto_failover"]);
    expect(etcd.exitCode).toBe(2);
    expect(etcd.stderr).toMatch(/needs "dcs-members", which pg_auto_failover does not have/);
    const sw = await cli(["switchover", "--stack", "repmgr"]);
    expect(sw.exitCode).toBe(2);
    expect(sw.stderr).toMatch(/needs "switchover", which repmgr does not have: repmgr's switchover logs into the primary over ssh/);
    const dcs = await cli(["dcs-loss", "--stack", "repmgr"]);
    expect(dcs.exitCode).toBe(2);
    expect(dcs.stderr).toMatch(/dcs-loss fault \(losing the whole coordination service\) needs "dcs", which repmgr does not have: repmgr has no coordination service/);
    for (const stack of ["repmgr", "pg_auto_failover"]) {
      const dr = await cli(["disaster-recovery", "--stack", stack]);
      expect(dr.exitCode).toBe(2);
      expect(dr.stderr).toMatch(new RegExp(`backup fault \\(a full backup to a repository of the run\\) needs "backup", which ${stack} does not have: backups and restores are wired for Patroni`));
    }
    const docker = await cli(["disaster-recovery", "--platform", "docker"]);
    expect(docker.exitCode).toBe(2);
    expect(docker.stderr).toMatch(/needs "backup", which the docker platform does not offer: backups and restores run on the local platform only/);
  });

  it("a stack the platform cannot run is refused before anything starts", async () => {
    const r = await cli(["primary-kill", "--stack", "pg_auto_failover", "--platform", "docker"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/pg_auto_failover runs on the local platform only, for now \(--platform local\)/);
  });

  it("an unknown stack names every known one, Patroni's and the others", async () => {
    const r = await cli(["primary-kill", "--stack", "repmgr@9"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown stack "repmgr@9": choose one of patroni@3\.0\.2[^]*pg_auto_failover/);
  });

  it("bad --repeat", async () => {
    const r = await cli(["primary-kill", "--repeat", "0"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--repeat takes a whole number");
  });

  it("unknown option", async () => {
    const r = await cli(["primary-kill", "--turbo"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/turbo/);
    expect(r.stderr).toContain("--help");
  });

  it("no scenario named", async () => {
    const r = await cli([]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("no scenario named");
  });

  it("--recheck on a directory that is not a run", async () => {
    const r = await cli(["--recheck", "/nonexistent-pgchaos-run"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/not a complete run directory: history.jsonl is missing/);
  });

  it("--cleanup on an unknown platform names the valid ones", async () => {
    const r = await cli(["--cleanup", "--platform", "k3s"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown platform "k3s": choose one of local, docker, kind, minikube, kube/);
  });

  it("--cleanup --platform kind says what the machine lacks instead of touching anything", async () => {
    // The machine this runs on has no container engine (and so no kind cluster to clean); where it has one
    // and kind, the command must succeed.
    const r = await cli(["--cleanup", "--platform", "kind"]);
    if (r.exitCode === 2) {
      expect(r.stderr).toMatch(/the kind platform cannot run on this machine:[\s\S]*(docker|kind)/);
    } else {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/kind cluster|namespace|nothing to clean up/);
    }
  });

  it("--out to a folder that cannot be made exits 2 at once, naming the path (it used to spin at 100% CPU)", async () => {
    const r = await cli(["primary-kill", "--out", "/proc/forbidden"], { timeout: 20_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--out \/proc\/forbidden: cannot create \/proc\/forbidden/);
  });

  it("--repeat out of range or negative says what it takes", async () => {
    for (const v of ["99999999999999999999", "-3", "1.5", "1e3"]) {
      const r = await cli(["primary-kill", "--repeat", v]);
      expect(r.exitCode, v).toBe(2);
      expect(r.stderr, v).toContain(`--repeat takes a whole number from 1 to 1000, got "${v}"`);
    }
  });

  it("two modes at once are refused, naming both", async () => {
    const r = await cli(["--list", "--cleanup"]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/--list and --cleanup do different things; give one of them/);
    const s = await cli(["primary-kill", "--recheck", "/tmp"]);
    expect(s.exitCode).toBe(2);
    expect(s.stderr).toMatch(/--recheck and a scenario \(primary-kill\)/);
  });

  it("--recheck on a run whose history is damaged is bad input (exit 2), naming the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-damaged-"));
    try {
      writeFileSync(join(dir, "history.jsonl"), '{"index":0,"time":1,"process":"writer","type":"invoke","f":"write","value":1}\n{"index":1, oops\n');
      writeFileSync(join(dir, "final.json"), "{}");
      writeFileSync(join(dir, "scenario.json"), "{}");
      const r = await cli(["--recheck", dir]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/cannot be re-checked: history.jsonl is damaged: .*line 2/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--list and --help exit 0", async () => {
    const list = await cli(["--list"]);
    expect(list.exitCode).toBe(0);
    for (const s of ["primary-kill", "replica-kill", "switchover", "primary-stop"]) expect(list.stdout).toContain(s);
    const help = await cli(["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("--profile");
  });
}, 30_000);
