import { readFileSync, statSync } from "node:fs";
import { execa } from "execa";

export interface ShmSegment {
  key: number;
  shmid: number;
  size: number;
  /** Creator's PID, as this process's PID namespace sees it. */
  cpid: number;
  nattch: number;
  uid: number;
}

/** The machine's SysV shared memory segments (/proc/sysvipc/shm; `ipcs -m` reads the same). */
export function listShm(text?: string): ShmSegment[] {
  let raw = text;
  if (raw === undefined) {
    try {
      raw = readFileSync("/proc/sysvipc/shm", "utf8");
    } catch {
      return [];
    }
  }
  const [header, ...rows] = raw.trim().split("\n");
  const cols = (header ?? "").trim().split(/\s+/);
  const at = (name: string) => cols.indexOf(name);
  return rows
    .map((r) => r.trim().split(/\s+/).map(Number))
    .filter((f) => f.length >= cols.length - 2)
    .map((f) => ({ key: f[at("key")]!, shmid: f[at("shmid")]!, size: f[at("size")]!, cpid: f[at("cpid")]!, nattch: f[at("nattch")]!, uid: f[at("uid")]! }));
}

/**
 * PostgreSQL's SysV segment key starts at the inode number of its data directory and counts up past keys in
 * use (sysv_shmem.c, PGSharedMemoryCreate), so the segments a data directory's postmasters made can be told
 * apart from everyone else's. A few keys up covers the collisions that ever happen here.
 */
const KEY_PROBES = 16;

export function dataDirKeys(dataDirs: readonly string[]): Set<number> {
  const keys = new Set<number>();
  for (const d of dataDirs) {
    let ino: number;
    try {
      ino = statSync(d).ino;
    } catch {
      continue;
    }
    // key_t is a C int: the inode's low 32 bits, read as signed, as /proc/sysvipc/shm prints it.
    for (let i = 0; i < KEY_PROBES; i++) keys.add((ino + i) | 0);
  }
  return keys;
}

/**
 * Segments our postmasters left: nobody attached, and made by one of `creators` (PIDs we killed) or keyed on
 * one of our data directories. A SIGKILLed postmaster leaves its segment behind, and one that started just
 * before the kill may not have written it to postmaster.pid yet: neither PID file nor memory of the run is
 * needed to find it.
 */
export function orphanSegments(opts: { creators?: Iterable<number>; dataDirs?: readonly string[] }, segments = listShm()): ShmSegment[] {
  const creators = new Set(opts.creators ?? []);
  const keys = dataDirKeys(opts.dataDirs ?? []);
  return segments.filter((s) => s.nattch === 0 && (creators.has(s.cpid) || keys.has(s.key)));
}

/** Removes the segments `orphanSegments` finds; returns how many it removed. */
export async function removeOrphanSegments(opts: { creators?: Iterable<number>; dataDirs?: readonly string[] }): Promise<number> {
  let removed = 0;
  for (const s of orphanSegments(opts)) {
    const r = await execa("ipcrm", ["-m", String(s.shmid)], { reject: false });
    if (r.exitCode === 0) removed++;
  }
  return removed;
}

/** Segments owned by `uid` that nobody is attached to: what a leak of ours looks like from outside. */
export function unattachedSegmentsOf(uid: number, segments = listShm()): ShmSegment[] {
  return segments.filter((s) => s.uid === uid && s.nattch === 0);
}
