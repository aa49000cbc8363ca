import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "primary-kill",
  description:
    "SIGKILL of Patroni, the postmaster and every backend on the node that is primary at fault time, like a pod kill. The node comes back after the leader key's ttl has run out (as a slow pod restart), so a replica must take over.",
  schedule: [
    {
      fault: { kind: "kill", target: "primary" },
      // Longer than ttl (10 s fast, 30 s default): a node back within ttl simply takes its own key back.
      holdMs: { fast: 15_000, default: 40_000 },
    },
  ],
  expect: {
    // Measured here: about 10 s (fast) and 22 s (default) until writes are back. Bounds are generous:
    // they catch a cluster that stops failing over, not noise.
    maxWriteUnavailableMs: { fast: 30_000, default: 60_000 },
    lostWrites: 0,
    divergence: false,
  },
});
