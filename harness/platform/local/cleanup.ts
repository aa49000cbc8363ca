import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { removeOrphanSegments } from "./shm.ts";
import { isAlive, processesMentioning, readPostmasterPid, removeShm, signalAll, waitGone } from "./procs.ts";
import { listLinks, listNetns, removeTopology, taggedRules } from "./net.ts";
import { PREFIX } from "./names.ts";
import { readStates, removeState, WORK_ROOT } from "./state.ts";

export interface CleanupReport {
  runs: string[];
  skipped: Array<{ runId: string; ownerPid: number }>;
  processes: number;
  netns: string[];
  links: string[];
  rules: number;
  workDirs: string[];
  /** SysV shared memory segments of our postmasters. */
  shm: number;
}

const RUN_OF_NETNS = new RegExp(`^${PREFIX}-([0-9a-f]{6})-n\\d+$`);
const RUN_OF_LINK = new RegExp(`^${PREFIX}([0-9a-f]{6})(?:br|h\\d+)$`);

/**
 * Removes what crashed or killed runs left: their processes, shared memory, namespaces, links, tagged
 * iptables rules and work directories. Runs whose owner process is alive are left alone unless `force`.
 */
export async function cleanupStrays(opts: { force?: boolean } = {}): Promise<CleanupReport> {
  const report: CleanupReport = { runs: [], skipped: [], processes: 0, netns: [], links: [], rules: 0, workDirs: [], shm: 0 };
  const live = new Set<string>();
  for (const s of readStates()) {
    if (!opts.force && s.ownerPid !== process.pid && isAlive(s.ownerPid)) {
      live.add(s.runId);
      report.skipped.push({ runId: s.runId, ownerPid: s.ownerPid });
    }
  }
  // Everything with our prefix that is not a live run's, whether or not a state file survived.
  const runIds = new Set<string>(readStates().map((s) => s.runId));
  const netns = await listNetns();
  const links = await listLinks();
  for (const id of [...netns.map((n) => RUN_OF_NETNS.exec(n)?.[1]), ...links.map((l) => RUN_OF_LINK.exec(l)?.[1])]) {
    if (id) runIds.add(id);
  }
  if (existsSync(WORK_ROOT)) for (const d of readdirSync(WORK_ROOT)) if (/^[0-9a-f]{6}$/.test(d)) runIds.add(d);
  for (const r of await taggedRules()) {
    const m = /pgchaos-([0-9a-f]{6})/.exec(r);
    if (m) runIds.add(m[1]!);
  }

  for (const runId of runIds) {
    if (live.has(runId)) continue;
    const state = readStates().find((s) => s.runId === runId);
    const workDir = state?.workDir ?? join(WORK_ROOT, runId);
    const pids = processesMentioning(workDir);
    signalAll(pids, "SIGKILL");
    await waitGone(pids, 5000);
    report.processes += pids.length;
    if (existsSync(workDir)) {
      const dataDirs = readdirSync(workDir).map((d) => join(workDir, d, "data"));
      for (const d of dataDirs) await removeShm(readPostmasterPid(d)?.shmId);
      report.shm += await removeOrphanSegments({ creators: pids, dataDirs });
    }
    const ns = netns.filter((n) => RUN_OF_NETNS.exec(n)?.[1] === runId);
    const ls = links.filter((l) => RUN_OF_LINK.exec(l)?.[1] === runId);
    const rules = (await taggedRules(runId)).length;
    await removeTopology({ netns: ns, links: ls, runId });
    report.netns.push(...ns);
    report.links.push(...ls);
    report.rules += rules;
    if (existsSync(workDir) && !state?.keep) {
      rmSync(workDir, { recursive: true, force: true });
      report.workDirs.push(workDir);
    }
    removeState(runId);
    report.runs.push(runId);
  }
  return report;
}
