import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "bridge",
  description:
    "Jepsen's bridge with a replica in the middle: the primary and the other replica cannot see each other but both still see the middle node (and the clients see everyone). etcd keeps quorum through the middle member.",
  schedule: [{ fault: { kind: "partition", shape: "bridge", target: "replica" }, holdMs: { fast: 25_000, default: 60_000 } }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
