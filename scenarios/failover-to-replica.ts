import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "failover-to-replica",
  description: "A manual failover to a named replica through Patroni's REST API (POST /failover with a candidate).",
  schedule: [{ fault: { kind: "failover", target: "replica" } }],
  expect: { maxWriteUnavailableMs: 10_000, lostWrites: 0, divergence: false, splitBrain: false },
});
