import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "primary-drain",
  description:
    "Drain of the primary's node as an operator does it: a planned switchover away from it, then a graceful stop of its member; it comes back 10 s later.",
  schedule: [{ fault: { kind: "drain", target: "primary" }, holdMs: 10_000 }],
  expect: { maxWriteUnavailableMs: 10_000, lostWrites: 0, divergence: false, splitBrain: false },
});
