import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "primary-oneway-out",
  description:
    "The primary's node can receive but not send to the other nodes: the others no longer hear it (etcd, replication), while it still hears them.",
  schedule: [{ fault: { kind: "partition", shape: "oneway-out", target: "primary" }, holdMs: { fast: 25_000, default: 60_000 } }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
