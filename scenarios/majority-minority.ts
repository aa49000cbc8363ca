import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "majority-minority",
  description:
    "The primary alone on the minority side of a split (clients stay with the majority): the majority must elect a new primary, the minority must stop accepting writes.",
  schedule: [{ fault: { kind: "partition", shape: "majority-minority", target: "primary" }, holdMs: { fast: 25_000, default: 60_000 } }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
