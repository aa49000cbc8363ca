import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "primary-stop",
  description:
    "Graceful stop (SIGTERM) of the primary's Patroni, which stops PostgreSQL and releases the leader key, as a node drain does; the node is started again 5 s later.",
  schedule: [{ fault: { kind: "stop", target: "primary" }, holdMs: 5000 }],
  expect: {
    // Measured here: about 2 s.
    maxWriteUnavailableMs: { fast: 15_000, default: 20_000 },
    lostWrites: 0,
    divergence: false,
  },
});
