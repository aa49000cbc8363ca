import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "primary-dcs-isolate",
  description:
    "The primary's Patroni loses every etcd member (its own included) while PostgreSQL replication and clients still reach it: Patroni must demote it when it cannot renew the leader key, before a replica takes the key.",
  schedule: [{ fault: { kind: "partition", shape: "dcs-isolate", target: "primary" }, holdMs: { fast: 25_000, default: 60_000 } }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
