import { describe, expect, it } from "vitest";
import { chownSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { listShm, orphanSegments } from "./shm.ts";
import { cleanupStrays } from "./cleanup.ts";
import { WORK_ROOT } from "./state.ts";
import { skipClusterTests } from "../../testing/leftovers.ts";

const PROC_SHM = `       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap
   5439490      32774   600                    56 12097     0      0   101   104   101   104          0          0 1795991946                     0                     0
   5439491      32775   600                    56 12098 12098      1   101   104   101   104          0          0 1795991946                     0                     0
 -12345678      32776   600                    56   777     0      0     0     0     0     0          0          0 1795991946                     0                     0
`;

describe("SysV shared memory of our postmasters", () => {
  it("reads /proc/sysvipc/shm rows, negative keys included", () => {
    const s = listShm(PROC_SHM);
    expect(s).toHaveLength(3);
    expect(s[0]).toEqual({ key: 5439490, shmid: 32774, size: 56, cpid: 12097, nattch: 0, uid: 101 });
    expect(s[2]!.key).toBe(-12345678);
  });

  it("an orphan is unattached and made by a PID we killed; attached segments are never orphans", () => {
    const s = listShm(PROC_SHM);
    expect(orphanSegments({ creators: [12097, 12098] }, s).map((x) => x.shmid)).toEqual([32774]);
    expect(orphanSegments({ creators: [1] }, s)).toEqual([]);
  });
});

/** A segment made as postgres with the key PostgreSQL would use for `dataDir` (its inode), as a SIGKILLed postmaster leaves it. */
async function leakSegmentFor(dataDir: string): Promise<number> {
  const key = statSync(dataDir).ino | 0;
  const r = await execa("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "perl", "-e", `my $id = shmget(${key}, 56, 0600 | 01000) // die "shmget: $!"; print $id`], { cwd: "/" });
  return Number(r.stdout);
}

describe.skipIf(skipClusterTests())("shared memory left by a crashed run", () => {
  it("is found by its data directory's key and removed by --cleanup, with no postmaster.pid to go by", async () => {
    // A crashed run whose postmaster was killed before it wrote its segment into postmaster.pid.
    const runId = "5a5a5a";
    const dataDir = join(WORK_ROOT, runId, "n1", "data");
    mkdirSync(dataDir, { recursive: true });
    chownSync(dataDir, Number((await execa("id", ["-u", "postgres"])).stdout), Number((await execa("id", ["-g", "postgres"])).stdout));
    const shmid = await leakSegmentFor(dataDir);
    try {
      expect(orphanSegments({ dataDirs: [dataDir] }).map((s) => s.shmid)).toEqual([shmid]);
      const report = await cleanupStrays();
      expect(report.runs).toContain(runId);
      expect(report.shm).toBe(1);
      expect(listShm().some((s) => s.shmid === shmid)).toBe(false);
    } finally {
      await execa("ipcrm", ["-m", String(shmid)], { reject: false });
      rmSync(join(WORK_ROOT, runId), { recursive: true, force: true });
    }
  });
});
