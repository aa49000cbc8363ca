import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "replica-kill",
  description: "SIGKILL of one replica's Patroni and PostgreSQL; the primary should not notice. The replica comes back 5 s later and must rejoin.",
  schedule: [{ fault: { kind: "kill", target: "replica" }, holdMs: 5000 }],
  expect: {
    // Writes never go through the replica; anything beyond a few hundred ms is a regression.
    maxWriteUnavailableMs: 2000,
    lostWrites: 0,
    divergence: false,
  },
});
