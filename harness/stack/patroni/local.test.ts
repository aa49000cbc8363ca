import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import pino from "pino";
import { defaultPatroniStack } from "./default.ts";
import { getProfile } from "./profiles.ts";
import { haproxyConfig } from "./config.ts";
import { PatroniHaStack } from "./stack.ts";
import { stackOf } from "./versions.ts";
import type { LocalNode, LocalRun } from "../local.ts";

const node = (i: number): LocalNode => ({
  name: `n${i}`,
  address: `10.213.7.${i}`,
  dir: `/var/tmp/pgchaos/abc123/n${i}`,
  dataDir: `/var/tmp/pgchaos/abc123/n${i}/data`,
  logDir: `/var/tmp/pgchaos/abc123/n${i}/log`,
  spawn: () => {
    throw new Error("no process in a unit test");
  },
  exec: () => {
    throw new Error("no process in a unit test");
  },
});

const noProcess = () => {
  throw new Error("no process in a unit test");
};

const run: LocalRun = {
  runId: "abc123",
  workDir: "/var/tmp/pgchaos/abc123",
  archive: false,
  onHost: { exec: noProcess, spawn: noProcess },
  nodes: [node(1), node(2), node(3)],
  services: [],
  subnetCidr: "10.213.7.0/24",
  pgBinDir: "/usr/lib/postgresql/15/bin",
  passwords: { superuser: "S3cret-su", replication: "S3cret-repl", rewind: "S3cret-rw" },
  credentials: { user: "postgres", password: "S3cret-su", database: "postgres" },
  endpoint: (n) => ({ host: n, port: 5432 }),
  readyTimeoutMs: 60_000,
  log: pino({ level: "silent" }),
  assertNotTornDown: () => undefined,
};

describe("Patroni's parts on the local platform", () => {
  const parts = defaultPatroniStack().local(getProfile("fast"), run);

  it("runs Patroni on the node's own patroni.yml, logging into the node's log folder", () => {
    expect(parts.agent(run.nodes[1]!)).toEqual({
      argv: ["/usr/bin/patroni", "/var/tmp/pgchaos/abc123/n2/patroni.yml"],
      logFile: "/var/tmp/pgchaos/abc123/n2/log/patroni.log",
      env: { HOME: "/var/tmp/pgchaos/abc123/n2", PYTHONUNBUFFERED: "1" },
    });
    expect(parts.programs.map((p) => p.path)).toEqual(["/usr/bin/patroni", "/usr/lib/postgresql/15/bin/initdb"]);
  });

  it("has an etcd member per node, and haproxy asks Patroni's REST API who is primary", () => {
    expect(parts.dcs?.name).toBe("etcd3");
    expect(parts.primaryCheck).toEqual({ port: 8008, path: "/primary" });
    const cfg = haproxyConfig({ bind: "10.213.7.254", port: 5432, members: [...run.nodes], pidFile: "/p", check: { port: 6010, path: "/is-primary" } });
    expect(cfg).toContain("option httpchk GET /is-primary");
    expect(cfg).toContain("server n1 10.213.7.1:5432 maxconn 100 check port 6010");
  });

  it("reports the stack and its settings, and leaves the passwords out of the report's config", () => {
    expect(parts.settings).toMatchObject({ stack: "patroni@3.0.2", dcs: "etcd3", ttl: 10, loop_wait: 1 });
    const files = parts.redactedFiles(run.nodes[0]!);
    expect(Object.keys(files)).toEqual(["patroni.yml"]);
    expect(files["patroni.yml"]).toContain("<redacted>");
    expect(files["patroni.yml"]).not.toMatch(/S3cret/);
    expect(files["patroni.yml"]).toContain("name: n1");
  });

  it("on Patroni 4.x reports the ttl it raised and how long it keeps a departed member's slot", () => {
    const four = new PatroniHaStack(stackOf("4.0.7"), { bin: "/cache/patroni-4.0.7/bin/patroni", patronictl: "/x", version: "4.0.7", sha256: undefined, source: "test" });
    const p = four.local(getProfile("fast"), run);
    expect(p.settings).toMatchObject({ stack: "patroni@4.0.7", ttl: 20, member_slots_ttl: 1800 });
    expect(p.settings.adjustedByStack).toEqual([expect.stringMatching(/^ttl 10 → 20: Patroni 4.0.7 raises ttl below 20 to 20/)]);
    expect(parts.settings.member_slots_ttl).toBeUndefined();
  });
});

describe("Patroni's parts with backups (the disaster-recovery scenario)", () => {
  const dir = mkdtempSync(join(tmpdir(), "pgchaos-backup-parts-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const nodes = [1, 2, 3].map((i) => ({ ...node(i), dir: join(dir, `n${i}`), dataDir: join(dir, `n${i}`, "data"), logDir: join(dir, `n${i}`, "log") }));
  for (const n of nodes) mkdirSync(join(n.dir, "run"), { recursive: true });
  const archived: LocalRun = { ...run, workDir: dir, archive: true, nodes };
  const owner = { uid: process.getuid!(), gid: process.getgid!() };
  // The default profile: its loop_wait (10 s) is not bring-up's (1 s).
  const parts = defaultPatroniStack().local(getProfile("default"), archived);
  const yml = (n: (typeof nodes)[number]) => parseYaml(readFileSync(join(n.dir, "patroni.yml"), "utf8")) as { bootstrap: Record<string, unknown> & { dcs: { ttl: number; loop_wait: number } }; postgresql: { parameters: Record<string, unknown> } };

  it("archives every member's WAL to the run's repository through its own pgBackRest configuration", () => {
    expect(parts.backups).toBeDefined();
    expect(parts.programs.map((p) => p.path)).toContain("/usr/bin/pgbackrest");
    expect(parts.settings.backups).toMatchObject({ stanza: "pgchaos" });
    parts.backups!.prepare(owner);
    for (const n of nodes) parts.writeNodeFiles(n, owner);
    const p = yml(nodes[1]!).postgresql.parameters;
    expect(p).toMatchObject({ archive_mode: "on", archive_timeout: "5s" });
    expect(p.archive_command).toBe(`/usr/bin/pgbackrest --config=${join(dir, "n2", "pgbackrest.conf")} --stanza=pgchaos archive-push %p`);
    const conf = readFileSync(join(dir, "n2", "pgbackrest.conf"), "utf8");
    expect(conf).toContain(`repo1-path=${join(dir, "pgbackrest", "repo")}`);
    expect(conf).toContain(`pg1-path=${join(dir, "n2", "data")}`);
    // The scratch instance's configuration restores into a folder of its own, never a member's data directory.
    expect(readFileSync(join(dir, "pgbackrest", "pgbackrest.conf"), "utf8")).toContain(`pg1-path=${join(dir, "pitr", "data")}`);
    // Every folder pgBackRest writes to (repository, locks, logs, spool) is in the run's folder, which teardown removes.
    for (const conf of [join(dir, "pgbackrest", "pgbackrest.conf"), ...nodes.map((n) => join(n.dir, "pgbackrest.conf"))]) {
      const paths = [...readFileSync(conf, "utf8").matchAll(/^[a-z0-9-]*-path=(.*)$/gm)].map((m) => m[1]!);
      expect(paths.length).toBeGreaterThanOrEqual(6);
      for (const p of paths) expect(p.startsWith(`${dir}/`), `${conf}: ${p}`).toBe(true);
    }
    expect(yml(nodes[0]!).bootstrap.method).toBeUndefined();
    expect(yml(nodes[0]!).bootstrap.dcs.loop_wait).toBe(1);
  });

  it("after a disaster, bootstraps from the repository with the profile's own timings", () => {
    parts.backups!.useRestoreBootstrap(owner);
    const b = yml(nodes[2]!).bootstrap;
    expect(b.method).toBe("pgbackrest");
    expect(b.pgbackrest).toEqual({
      command: `/usr/bin/pgbackrest --config=${join(dir, "n3", "pgbackrest.conf")} --stanza=pgchaos --type=default restore`,
      keep_existing_recovery_conf: true,
      no_params: true,
    });
    expect(b.dcs.loop_wait).toBe(10);
  });

  it("keeps no backups when the run did not ask for archiving", () => {
    expect(defaultPatroniStack().local(getProfile("fast"), run).backups).toBeUndefined();
  });
});
