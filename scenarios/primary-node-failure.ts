import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "primary-node-failure",
  description:
    "The machine under the primary loses power: its link goes silent and Patroni, PostgreSQL and its etcd member die with it. Unlike a pod kill nobody gets a connection reset, so clients and peers learn of it only from timeouts. It boots again after longer than ttl.",
  schedule: [{ fault: { kind: "node-failure", target: "primary" }, holdMs: { fast: 20_000, default: 50_000 } }],
  // A failover after ttl, slowed by connect timeouts and, when the etcd leader was on that machine, an etcd
  // election; bounds as generous as primary-kill's.
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
