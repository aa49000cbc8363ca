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
import { listStacks } from "../../stack/patroni/versions.ts";
import { REST_PORT } from "../../stack/patroni/config.ts";

const skip = skipClusterTests();

// Every Patroni version the harness knows: Debian 12's and the ones fetched from Debian's archive.
for (const stack of listStacks().map((s) => s.name)) {
  platformContract("local", () => localPlatform, {
    // skipClusterTests() has printed the reason when it says to skip.
    skipReason: skip ? "see the message above (PGCHAOS_CLUSTER_TESTS=1, root and the system packages are needed)" : undefined,
    stack,
    agentVersion: async (cluster, node) => {
      const res = await fetch(`http://${cluster.addressOf(node)}:${REST_PORT}/patroni`, { signal: AbortSignal.timeout(2000) });
      return ((await res.json()) as { patroni?: { version?: string } }).patroni?.version ?? "?";
    },
    leftovers: async (cluster: Cluster) => {
      const runId = (cluster as { runId?: string }).runId;
      if (!runId) return ["the local cluster has no run id to look for"];
      const l = await leftovers(runId);
      return Object.entries(l).flatMap(([kind, items]) => (items as unknown[]).map((x) => `${kind}: ${String(x)}`));
    },
  });
}
