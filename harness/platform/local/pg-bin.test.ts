import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { endBringUp, makeRunBinDir } from "./pg-bin.ts";

/**
 * A stand-in for PostgreSQL's own folder: its pg_isready answers "starting up" (1) the first `REJECTS` times it is
 * asked and "accepting" (0) afterwards, counting the asks in a file, as a postmaster still starting does.
 */
function fakePgBin(root: string, rejects: number): string {
  const dir = join(root, "real");
  spawnSync("mkdir", ["-p", dir]);
  writeFileSync(join(dir, "postgres"), "#!/bin/sh\necho postgres\n", { mode: 0o755 });
  writeFileSync(join(dir, "initdb"), "#!/bin/sh\necho initdb\n", { mode: 0o755 });
  writeFileSync(
    join(dir, "pg_isready"),
    `#!/bin/sh\nn=$(cat ${root}/asks 2>/dev/null || echo 0); n=$((n + 1)); echo $n > ${root}/asks\n[ $n -gt ${rejects} ] && { [ "$1" = -q ] || echo "accepting connections"; exit 0; }\n[ "$1" = -q ] || echo "rejecting connections"; exit 1\n`,
    { mode: 0o755 },
  );
  return dir;
}

describe("the run's PostgreSQL programs (Patroni's bin_dir)", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "pgchaos-pgbin-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const asks = () => Number(readFileSync(join(root, "asks"), "utf8"));

  it("links every program but pg_isready to PostgreSQL's own", () => {
    const realDir = fakePgBin(root, 0);
    makeRunBinDir({ dir: join(root, "bin"), realDir, bringUpMark: join(root, "mark") });
    expect(readlinkSync(join(root, "bin", "postgres"))).toBe(join(realDir, "postgres"));
    expect(readlinkSync(join(root, "bin", "initdb"))).toBe(join(realDir, "initdb"));
    expect(lstatSync(join(root, "bin", "pg_isready")).isSymbolicLink()).toBe(false);
  });

  it("during bring-up, asks again until PostgreSQL accepts instead of answering 'starting up' at once", () => {
    const realDir = fakePgBin(root, 3);
    const mark = join(root, "mark");
    makeRunBinDir({ dir: join(root, "bin"), realDir, bringUpMark: mark });
    writeFileSync(mark, "");
    const r = spawnSync(join(root, "bin", "pg_isready"), ["-p", "5432"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("accepting connections");
    expect(asks()).toBe(5); // three refusals, the accept inside the loop, and the answer Patroni reads
  });

  it("gives up after about a second, never longer than Patroni's own sleep, with PostgreSQL's answer", () => {
    const realDir = fakePgBin(root, 1000);
    const mark = join(root, "mark");
    makeRunBinDir({ dir: join(root, "bin"), realDir, bringUpMark: mark });
    writeFileSync(mark, "");
    const t0 = performance.now();
    const r = spawnSync(join(root, "bin", "pg_isready"), [], { encoding: "utf8" });
    const ms = performance.now() - t0;
    expect(r.status).toBe(1);
    expect(asks()).toBe(51);
    // Generous: a loaded machine stretches 50 sleeps of 20 ms, but a second poll loop never comes near 5 s.
    expect(ms).toBeLessThan(5000);
  });

  it("after bring-up is PostgreSQL's own pg_isready: one ask, its answer", () => {
    const realDir = fakePgBin(root, 3);
    const mark = join(root, "mark");
    makeRunBinDir({ dir: join(root, "bin"), realDir, bringUpMark: mark });
    writeFileSync(mark, "");
    endBringUp(mark);
    expect(existsSync(mark)).toBe(false);
    const r = spawnSync(join(root, "bin", "pg_isready"), ["-p", "5432"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("rejecting connections");
    expect(asks()).toBe(1);
  });

  it("passes a path with quotes and spaces through intact", () => {
    const realDir = fakePgBin(root, 0);
    const odd = join(root, "it's here");
    makeRunBinDir({ dir: odd, realDir, bringUpMark: join(odd, "mark") });
    chmodSync(join(odd, "pg_isready"), 0o755);
    expect(spawnSync(join(odd, "pg_isready"), []).status).toBe(0);
  });
});

describe("the run's initdb, pg_ctl and pg_basebackup: what goes to PostgreSQL's own", () => {
  let root: string;
  let realDir: string;
  const mark = () => join(root, "mark");
  const record = () => join(root, "record");
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "pgchaos-pgbin-"));
    realDir = join(root, "real");
    spawnSync("mkdir", ["-p", realDir]);
    writeFileSync(join(realDir, "pg_isready"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    // Each stand-in says it ran, with its arguments one per line, in the calls file and on stdout; it makes nothing,
    // and so does the stand-in postgres: any step of the cached path leaves a call, or fails and falls back.
    for (const name of ["initdb", "pg_ctl", "pg_basebackup", "postgres", "pg_controldata", "psql"]) {
      const version = name === "postgres" ? `[ "$1" = --version ] && { echo 'postgres (PostgreSQL) 15'; exit 0; }\n` : "";
      writeFileSync(join(realDir, name), `#!/bin/sh\n${version}{ echo "REAL ${name}"; printf '%s\\n' "$@"; } | tee -a ${root}/calls\n`, { mode: 0o755 });
    }
    makeRunBinDir({ dir: join(root, "bin"), realDir, bringUpMark: mark(), initdbCache: { dir: join(root, "cache"), owner: { uid: process.getuid!(), gid: process.getgid!() }, record: record() } });
    writeFileSync(mark(), "");
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const run = (name: string, args: string[]) => spawnSync(join(root, "bin", name), args, { encoding: "utf8", cwd: root });
  /** Every call of a stand-in so far, as "REAL name" and its arguments, one per line. */
  const calls = () => (existsSync(join(root, "calls")) ? readFileSync(join(root, "calls"), "utf8") : "");

  it.each([
    ["an option that names a place (its output would point every later copy there)", ["--encoding=UTF8", "--waldir=/elsewhere", "d"]],
    ["an --auth the password-less cached output could not be made with", ["--auth=scram-sha-256", "--pwfile=/p", "d"]],
    ["a short option it does not parse", ["-E", "UTF8", "d"]],
    ["an argument with a blank in it", ["--locale=C.UTF-8", "my data"]],
    ["two data folders", ["--no-sync", "d1", "d2"]],
    ["no data folder", ["--no-sync"]],
  ])("initdb during the bring-up: %s goes to PostgreSQL's initdb with the arguments as given", (_why, args) => {
    const r = run("initdb", args);
    expect(r.status).toBe(0);
    expect(calls()).toBe(`REAL initdb\n${args.join("\n")}\n`);
    expect(readFileSync(record(), "utf8")).toBe("");
  });

  it("pg_ctl: initdb without a value for -o, and every other command, are PostgreSQL's pg_ctl", () => {
    expect(run("pg_ctl", ["initdb", "-D", "d", "-o"]).stdout).toBe("REAL pg_ctl\ninitdb\n-D\nd\n-o\n");
    expect(run("pg_ctl", ["promote", "-D", "d"]).stdout).toBe("REAL pg_ctl\npromote\n-D\nd\n");
    // Patroni 3's initdb goes to the run's initdb, which hands this odd option on to PostgreSQL's.
    expect(run("pg_ctl", ["initdb", "-D", "d", "-o", "--waldir=/x --no-sync"]).stdout).toBe("REAL initdb\n--waldir=/x\n--no-sync\nd\n");
  });

  it.each([
    ["a -X without its value", ["--pgdata=d", "--dbname=host=x", "-X"]],
    ["a WAL method other than stream", ["--pgdata=d", "--dbname=host=x", "-X", "fetch"]],
    ["an option it does not know", ["--pgdata=d", "--dbname=host=x", "-X", "stream", "--format=tar"]],
    ["no --dbname", ["--pgdata=d", "-X", "stream"]],
  ])("pg_basebackup during the bring-up: %s goes to PostgreSQL's pg_basebackup", (_why, args) => {
    writeFileSync(record(), "/nonexistent-cached-copy\n");
    run("pg_basebackup", args);
    expect(calls()).toBe(`REAL pg_basebackup\n${args.join("\n")}\n`);
  });

  it("pg_basebackup when the leader was not made from a cached copy (nothing recorded), or the copy has no control data", () => {
    const args = ["--pgdata=d", "-X", "stream", "--dbname=host=x", "--checkpoint=fast"];
    const real = `REAL pg_basebackup\n${args.join("\n")}\n`;
    run("pg_basebackup", args);
    expect(calls()).toBe(real);
    rmSync(join(root, "calls"));
    writeFileSync(record(), "/nonexistent-cached-copy\n");
    run("pg_basebackup", args);
    // The copy's control data is read (the stand-in answers nothing usable), the leader is never asked.
    expect(calls()).toBe(`REAL pg_controldata\n/nonexistent-cached-copy\n${real}`);
  });

  it("after the bring-up all three are PostgreSQL's own", () => {
    endBringUp(mark());
    expect(run("initdb", ["--no-sync", "d"]).stdout).toBe("REAL initdb\n--no-sync\nd\n");
    expect(run("pg_ctl", ["initdb", "-D", "d", "-o", "--no-sync"]).stdout).toBe("REAL pg_ctl\ninitdb\n-D\nd\n-o\n--no-sync\n");
    expect(run("pg_basebackup", ["--pgdata=d"]).stdout).toBe("REAL pg_basebackup\n--pgdata=d\n");
  });

  it("removes cached outputs no run used for 30 days and interrupted builds, and keeps the rest", () => {
    const cache = join(root, "cache");
    const entry = (name: string, ageMs: number) => {
      spawnSync("mkdir", ["-p", join(cache, name, "global")]);
      writeFileSync(join(cache, name, "global", "pg_control"), "");
      const t = new Date(Date.now() - ageMs);
      utimesSync(join(cache, name), t, t);
    };
    entry("old", 31 * 24 * 3600_000);
    entry("recent", 29 * 24 * 3600_000);
    entry(".building.1.2", 11 * 60_000);
    entry(".building.3.4", 60_000);
    makeRunBinDir({ dir: join(root, "bin3"), realDir, bringUpMark: mark(), initdbCache: { dir: cache, owner: { uid: process.getuid!(), gid: process.getgid!() }, record: record() } });
    expect(readdirSync(cache).sort()).toEqual([".building.3.4", "recent"]);
  });

  it("never writes its scripts through a link to PostgreSQL's own program", () => {
    const dir = join(root, "bin2");
    makeRunBinDir({ dir, realDir, bringUpMark: mark() });
    expect(lstatSync(join(dir, "initdb")).isSymbolicLink()).toBe(true);
    makeRunBinDir({ dir, realDir, bringUpMark: mark(), initdbCache: { dir: join(root, "cache"), owner: { uid: process.getuid!(), gid: process.getgid!() }, record: record() } });
    expect(readFileSync(join(realDir, "initdb"), "utf8")).toContain('echo "REAL initdb"');
    expect(lstatSync(join(dir, "initdb")).isSymbolicLink()).toBe(false);
  });
});
