import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
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
