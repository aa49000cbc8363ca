/**
 * The platform contract on the local platform (network namespaces). It starts a real cluster, so it runs only
 * with `npm test` (PGCHAOS_CLUSTER_TESTS=1) as root with the system packages; otherwise it is skipped and
 * skipClusterTests() prints why.
 */
import type { Cluster } from "../types.ts";
import { localPlatform } from "../local/index.ts";
import { leftovers } from "../../testing/leftovers.ts";
import { skipClusterTests } from "../../testing/leftovers.ts";
import { platformContract } from "./contract.ts";
import { execa } from "execa";
import type { LocalCluster } from "../local/cluster.ts";
import { listStacks } from "../../stack/patroni/versions.ts";
import { REST_PORT } from "../../stack/patroni/config.ts";

const skip = skipClusterTests();
// skipClusterTests() has printed the reason when it says to skip.
const skipReason = skip ? "see the message above (PGCHAOS_CLUSTER_TESTS=1, root and the system packages are needed)" : undefined;

async function localLeftovers(cluster: Cluster): Promise<string[]> {
  const runId = (cluster as { runId?: string }).runId;
  if (!runId) return ["the local cluster has no run id to look for"];
  const l = await leftovers(runId);
  return Object.entries(l).flatMap(([kind, items]) => (items as unknown[]).map((x) => `${kind}: ${String(x)}`));
}

// Every Patroni version the harness knows: Debian 12's and the ones fetched from Debian's archive.
for (const stack of listStacks().map((s) => s.name)) {
  platformContract("local", () => localPlatform, {
    skipReason,
    stack,
    agentVersion: async (cluster, node) => {
      const res = await fetch(`http://${cluster.addressOf(node)}:${REST_PORT}/patroni`, { signal: AbortSignal.timeout(2000) });
      return ((await res.json()) as { patroni?: { version?: string } }).patroni?.version ?? "?";
    },
    leftovers: localLeftovers,
  });
}

// pg_auto_failover: a monitor on a host of its own, the same contract (its members, primary service, faults and teardown).
platformContract("local", () => localPlatform, {
  skipReason,
  stack: "pg_auto_failover",
  agentVersion: async (cluster, node) => {
    const r = await execa("ip", ["netns", "exec", (cluster as LocalCluster).netnsOf(node), "pg_autoctl", "--version"]);
    return /pg_autoctl version (\S+)/.exec(r.stdout)?.[1] ?? "?";
  },
  leftovers: localLeftovers,
});

// repmgr: repmgrd on every member, no consensus; the same contract but the switchover, which it does over ssh.
platformContract("local", () => localPlatform, {
  skipReason,
  stack: "repmgr",
  agentVersion: async (cluster, node) => {
    const r = await execa("ip", ["netns", "exec", (cluster as LocalCluster).netnsOf(node), "/usr/lib/postgresql/15/bin/repmgr", "--version"]);
    return /repmgr (\S+)/.exec(r.stdout)?.[1] ?? "?";
  },
  leftovers: localLeftovers,
});
