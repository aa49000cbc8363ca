import type { Platform } from "../types.ts";
import { ALL_PLATFORM_CAPABILITIES } from "../../scenario/capabilities.ts";
import { LocalCluster } from "./cluster.ts";
import { localPreflight } from "./preflight.ts";
import { cleanupStrays } from "./cleanup.ts";
import { EnvironmentError } from "../../util/errors.ts";

/** The embedded default: one network namespace per node on this machine. */
export const localPlatform: Platform = {
  name: "local",
  // Latency too: whether this kernel has sch_netem is only known on a live namespace, and the latency fault
  // refuses with the reason there.
  capabilities: ALL_PLATFORM_CAPABILITIES,
  preflight: async () => localPreflight(),
  deploy: (spec) => LocalCluster.deploy(spec),
  async cleanup({ force }) {
    if (process.getuid?.() !== 0) {
      throw new EnvironmentError("cleaning up the local platform removes network namespaces, links, iptables rules and processes, which needs root: run it as root (for example `sudo npm run scenario -- --cleanup`).");
    }
    const r = await cleanupStrays({ force });
    return [
      ...r.skipped.map((s) => `left run ${s.runId} alone: its pgchaos process ${s.ownerPid} is alive (use --force)`),
      r.runs.length === 0
        ? "nothing to clean up"
        : `cleaned ${r.runs.length} run(s): ${r.processes} processes, ${r.netns.length} namespaces, ${r.links.length} links, ${r.rules} iptables rules, ${r.workDirs.length} data directories, ${r.shm} shared memory segments`,
    ];
  },
};
