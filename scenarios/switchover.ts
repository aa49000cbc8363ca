import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "switchover",
  description: "A planned switchover through Patroni's REST API (POST /switchover) to any healthy replica.",
  schedule: [{ fault: { kind: "switchover" } }],
  expect: {
    // Measured here: about 1.4 s gap.
    maxWriteUnavailableMs: 10_000,
    lostWrites: 0,
    divergence: false,
  },
});
