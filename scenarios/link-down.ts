import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "link-down",
  description: "The primary's only network link goes down for longer than ttl (a NIC or switch port failure), then comes back.",
  schedule: [{ fault: { kind: "link-down", target: "primary" }, holdMs: { fast: 25_000, default: 60_000 } }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
