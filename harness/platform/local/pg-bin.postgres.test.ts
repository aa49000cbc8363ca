/**
 * The run's initdb, pg_ctl and pg_basebackup (pg-bin.ts) against PostgreSQL's own programs, run as `postgres` as the
 * agents run them: what a bring-up gets from the cached initdb output, and that everything else is PostgreSQL's own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { makeRunBinDir, stageInitdbCopies, unstageInitdbCopies } from "./pg-bin.ts";
import { PG_BIN_DIR } from "./preflight.ts";
import { skipClusterTests } from "../../testing/leftovers.ts";

const OPTIONS = ["--encoding=UTF8", "--locale=C.UTF-8", "--data-checksums", "--no-sync", "--username=postgres"];

describe.skipIf(skipClusterTests())("the run's PostgreSQL programs, on PostgreSQL", () => {
  let root: string;
  let bin: string;
  let mark: string;
  let record: string;
  let cache: string;
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
  const servers: string[] = [];

  const asPostgres = (argv: string[], env: Record<string, string> = {}) =>
    spawnSync("runuser", ["-u", "postgres", "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv], { cwd: root, encoding: "utf8" });
  const ours = (argv: string[], env?: Record<string, string>) => asPostgres([join(bin, argv[0]!), ...argv.slice(1)], env);
  const control = (dir: string, field: string) =>
    new RegExp(`^${field}:\\s*(.*)$`, "m").exec(execFileSync(join(PG_BIN_DIR, "pg_controldata"), [dir], { encoding: "utf8" }))?.[1];
  const file = (name: string, text: string) => {
    writeFileSync(join(root, name), text, { mode: 0o600 });
    chownSync(join(root, name), uid, gid);
    return join(root, name);
  };
  const cached = () => readdirSync(cache).filter((n) => !n.startsWith("."));

  /** Starts `data` on a socket folder of its own, password logins only; returns that folder. */
  function start(data: string, extra: string[] = []): string {
    const sock = join(root, `sock-${servers.length}`);
    mkdirSync(sock);
    chownSync(sock, uid, gid);
    writeFileSync(join(data, "pg_hba.conf"), "local all all scram-sha-256\nlocal replication all scram-sha-256\n");
    const o = ["-c listen_addresses=''", `-c unix_socket_directories=${sock}`, "-c wal_retrieve_retry_interval=100ms", ...extra].join(" ");
    const r = asPostgres([join(PG_BIN_DIR, "pg_ctl"), "-D", data, "-o", o, "-l", join(data, "log"), "-w", "start"]);
    expect(r.status, `${r.stderr}${r.stdout}${existsSync(join(data, "log")) ? readFileSync(join(data, "log"), "utf8") : ""}`).toBe(0);
    servers.push(data);
    return sock;
  }
  const sql = (sock: string, password: string, query: string) =>
    spawnSync(join(PG_BIN_DIR, "psql"), ["-XAtq", "-h", sock, "-U", "postgres", "-d", "postgres", "-c", query], { encoding: "utf8", env: { ...process.env, PGPASSWORD: password } });

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "pgchaos-pgbin-pg-"));
    chownSync(root, uid, gid);
    bin = join(root, "bin");
    mark = join(root, "bringing-up");
    record = join(root, "bring-up-template");
    cache = join(root, "cache", "initdb");
    makeRunBinDir({ dir: bin, realDir: PG_BIN_DIR, bringUpMark: mark, initdbCache: { dir: cache, owner: { uid, gid }, record } });
  });
  afterAll(() => {
    for (const d of servers) asPostgres([join(PG_BIN_DIR, "pg_ctl"), "-D", d, "-m", "immediate", "-w", "stop"]);
    rmSync(root, { recursive: true, force: true });
  });

  let leaderSock: string;
  const leaderPw = "le'ader pw";

  it("during bring-up, initdb makes the cached output once, without a password, and copies it with the run's password", () => {
    writeFileSync(mark, "");
    const first = ours(["initdb", ...OPTIONS, `--pwfile=${file("pw1", `${leaderPw}\n`)}`, join(root, "d1")]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain("pgchaos: initdb's output for these options copied from");
    expect(cached()).toHaveLength(1);
    const tpl = join(cache, cached()[0]!);
    expect(readFileSync(record, "utf8").trim()).toBe(tpl);
    // What a standby must at least have is recorded at its smallest, so a replica made from it runs with its own.
    expect(control(tpl, "max_connections setting")).toBe("1");
    expect(control(tpl, "Database cluster state")).toBe("shut down");
    // The cache keeps no password: a copy of it, asked in single-user mode.
    execFileSync("cp", ["-a", tpl, join(root, "inspect")]);
    const check = spawnSync("runuser", ["-u", "postgres", "--", join(PG_BIN_DIR, "postgres"), "--single", "-D", join(root, "inspect"), "postgres"], {
      cwd: root,
      encoding: "utf8",
      input: "SELECT rolpassword IS NULL AS nopassword FROM pg_authid WHERE rolname = 'postgres';\n",
    });
    expect(check.stdout).toMatch(/nopassword = "t"/);

    leaderSock = start(join(root, "d1"));
    expect(sql(leaderSock, leaderPw, "SELECT 'in'").stdout.trim()).toBe("in");
    expect(sql(leaderSock, "wrong", "SELECT 1").stderr).toContain("password authentication failed");
  }, 60_000);

  it("takes Patroni 3's `pg_ctl initdb -D -o` the same way, from the same cached output", () => {
    const r = ours(["pg_ctl", "initdb", "-D", join(root, "d2"), "-o", [...OPTIONS, `--pwfile=${file("pw2", "second")}`].join(" ")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("copied from");
    expect(cached()).toHaveLength(1);
    // Every cluster made from one cached output shares its system identifier (documented in pg-bin.ts).
    expect(control(join(root, "d2"), "Database system identifier")).toBe(control(join(root, "d1"), "Database system identifier"));
    const sock = start(join(root, "d2"));
    expect(sql(sock, "second", "SELECT 'in'").stdout.trim()).toBe("in");
    expect(sql(sock, leaderPw, "SELECT 1").status).not.toBe(0);
  }, 60_000);

  it("is PostgreSQL's own initdb after the bring-up, and on an option shape it does not parse", () => {
    rmSync(mark);
    const after = ours(["initdb", ...OPTIONS, `--pwfile=${file("pw3", "x")}`, join(root, "d3")]);
    expect(after.status, after.stderr).toBe(0);
    expect(after.stdout).not.toContain("pgchaos:");
    expect(control(join(root, "d3"), "Database system identifier")).not.toBe(control(join(root, "d1"), "Database system identifier"));
    writeFileSync(mark, "");
    const odd = ours(["initdb", "-E", "UTF8", "--no-sync", join(root, "d4")]);
    expect(odd.status, odd.stderr).toBe(0);
    expect(odd.stdout).not.toContain("pgchaos:");
    expect(control(join(root, "d4"), "Database system identifier")).not.toBe(control(join(root, "d1"), "Database system identifier"));
  }, 60_000);

  it("makes a replica of a leader made from the cache by copying it; the replica replays what the leader did since", async () => {
    writeFileSync(mark, "");
    // What Patroni's post_bootstrap does after initdb: roles, written after the cached copy's checkpoint.
    expect(sql(leaderSock, leaderPw, "CREATE ROLE made_after LOGIN").status).toBe(0);
    const backup = (dir: string) =>
      ours(["pg_basebackup", `--pgdata=${join(root, dir)}`, "-X", "stream", `--dbname=host=${leaderSock} user=postgres dbname=postgres`, "--checkpoint=fast"], { PGPASSWORD: leaderPw });
    const r = backup("r1");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("copied it instead of a base backup");
    expect(existsSync(join(root, "r1", "backup_label"))).toBe(false);
    writeFileSync(join(root, "r1", "standby.signal"), "");
    writeFileSync(join(root, "r1", "postgresql.auto.conf"), `primary_conninfo = 'host=${leaderSock} user=postgres passfile=${file("pgpass", `*:*:*:postgres:${leaderPw}\n`)}'\n`);
    const sock = start(join(root, "r1"));
    let seen = "";
    for (let i = 0; i < 100 && seen !== "1|streaming"; i++) {
      await new Promise((res) => setTimeout(res, 100));
      seen = sql(sock, leaderPw, "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = 'made_after') || '|' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')").stdout.trim();
    }
    expect(seen).toBe("1|streaming");

    // Once the bring-up is over: a base backup.
    rmSync(mark);
    const after = backup("r2");
    expect(after.status, after.stderr).toBe(0);
    expect(after.stdout).not.toContain("pgchaos:");
    expect(existsSync(join(root, "r2", "backup_label"))).toBe(true);

    // During the bring-up, but the leader has left the WAL segment of the cached checkpoint: a base backup.
    writeFileSync(mark, "");
    expect(sql(leaderSock, leaderPw, "CREATE TABLE t AS SELECT 1 AS x; SELECT pg_switch_wal()").status).toBe(0);
    const moved = backup("r3");
    expect(moved.status, moved.stderr).toBe(0);
    expect(moved.stdout).not.toContain("pgchaos:");
    expect(existsSync(join(root, "r3", "backup_label"))).toBe(true);
  }, 90_000);

  it("renames a copy staged beside the data folder instead of copying, and unstaging removes what was not used", async () => {
    writeFileSync(mark, "");
    const nodes = ["n1", "n2"].map((n) => join(root, n));
    for (const d of nodes) {
      mkdirSync(d);
      chownSync(d, uid, gid);
    }
    await stageInitdbCopies(cache, nodes);
    const key = cached()[0]!;
    for (const d of nodes) expect(existsSync(join(d, `staged-${key}`))).toBe(true);
    const r = ours(["initdb", ...OPTIONS, `--pwfile=${file("pw5", "staged")}`, join(nodes[0]!, "data")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("copied from");
    expect(existsSync(join(nodes[0]!, `staged-${key}`))).toBe(false);
    expect(control(join(nodes[0]!, "data"), "Database system identifier")).toBe(control(join(cache, key), "Database system identifier"));
    const sock = start(join(nodes[0]!, "data"));
    expect(sql(sock, "staged", "SELECT 'in'").stdout.trim()).toBe("in");
    unstageInitdbCopies(nodes);
    expect(readdirSync(nodes[1]!)).toEqual([]);
  }, 60_000);
});
