import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "primary-oneway-in",
  description:
    "The primary's node can send but not receive from the other nodes (an asymmetric network fault): it cannot hear etcd or its replicas, they still receive its packets.",
  schedule: [{ fault: { kind: "partition", shape: "oneway-in", target: "primary" }, holdMs: { fast: 25_000, default: 60_000 } }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
