import { existsSync, readdirSync, readFileSync } from "node:fs";
import { unattachedSegmentsOf } from "../platform/local/shm.ts";
import { listLinks, listNetns, taggedRules } from "../platform/local/net.ts";
import { PREFIX } from "../platform/local/names.ts";
import { processesMentioning } from "../platform/local/procs.ts";
import { readStates, WORK_ROOT } from "../platform/local/state.ts";
import { missingBinaries } from "../platform/local/preflight.ts";

export interface Leftovers {
  netns: string[];
  links: string[];
  rules: string[];
  processes: number[];
  workDirs: string[];
  stateFiles: string[];
  /** SysV segments of the postgres user that nobody is attached to: what a killed postmaster leaves. */
  shm: string[];
}

/** Everything of pgchaos's still on the machine, optionally for one run id only. */
export async function leftovers(runId?: string): Promise<Leftovers> {
  const mine = (s: string) => (runId ? s.includes(runId) : true);
  return {
    netns: (await listNetns()).filter((n) => n.startsWith(`${PREFIX}-`) && mine(n)),
    links: (await listLinks()).filter((l) => l.startsWith(PREFIX) && mine(l)),
    rules: await taggedRules(runId),
    processes: processesMentioning(runId ? `${WORK_ROOT}/${runId}` : WORK_ROOT),
    workDirs: existsSync(WORK_ROOT) ? readdirSync(WORK_ROOT).filter(mine) : [],
    stateFiles: readStates().map((s) => s.runId).filter(mine),
    shm: postgresUid() === undefined ? [] : unattachedSegmentsOf(postgresUid()!).map((s) => `shmid ${s.shmid} key ${s.key} (${s.size} bytes, made by pid ${s.cpid})`),
  };
}

export const NOTHING: Leftovers = { netns: [], links: [], rules: [], processes: [], workDirs: [], stateFiles: [], shm: [] };

function postgresUid(): number | undefined {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"));
  return line ? Number(line.split(":")[2]) : undefined;
}

/** Why tests that need a real cluster cannot run here, or undefined when they can. */
export function clusterSkipReason(): string | undefined {
  if (process.platform !== "linux") return "the local platform needs Linux";
  if (process.getuid?.() !== 0) return "the local platform needs root (network namespaces); run the tests as root";
  const missing = missingBinaries();
  if (missing.length > 0) return `missing system packages ${[...new Set(missing.map((m) => m.pkg))].join(", ")}: run \`npm run setup\``;
  return undefined;
}

/**
 * For `describe.skipIf`: on a developer machine without root the cluster tests are skipped with the
 * reason printed; in CI (CI=true) they never skip, so a broken environment fails the build instead.
 */
export function skipClusterTests(): boolean {
  // `npm test` sets this; a bare `npx vitest run some/folder` stays free of clusters (one fits this machine).
  if (process.env.PGCHAOS_CLUSTER_TESTS !== "1") {
    console.warn("skipping cluster tests: they run with `npm test` (or PGCHAOS_CLUSTER_TESTS=1)");
    return true;
  }
  const reason = clusterSkipReason();
  if (!reason) return false;
  if (process.env.CI) return false;
  console.warn(`skipping cluster tests: ${reason}`);
  return true;
}
