import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "dcs-loss",
  description:
    "The whole coordination service lost for longer than ttl, PostgreSQL untouched: every etcd member beside Patroni, or pg_auto_failover's monitor, SIGKILLed and started again at heal. Patroni without failsafe_mode demotes its primary once it cannot renew the leader key, so writes stop although every database is healthy; pg_auto_failover's monitor only decides failovers, so its primary keeps serving (no failover is possible meanwhile). repmgr has no coordination service and is refused.",
  schedule: [{ fault: { kind: "dcs-loss" }, holdMs: { fast: 20_000, default: 45_000 } }],
  // Patroni's writes are expected to stop for the whole outage plus recovery: the bound is the hold plus margin, so
  // that a stack which keeps serving passes as well as one that stops and comes back.
  expect: { maxWriteUnavailableMs: { fast: 60_000, default: 120_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
