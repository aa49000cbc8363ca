import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "etcd-quorum-loss",
  description:
    "SIGKILL of 2 of the 3 etcd members (the DCS loses quorum) for longer than ttl, PostgreSQL untouched: without failsafe_mode Patroni demotes the primary, so writes stop although every database is healthy.",
  schedule: [{ fault: { kind: "dcs-kill", target: "majority" }, holdMs: { fast: 20_000, default: 45_000 } }],
  // Writes are expected to stop for the whole outage of the DCS plus recovery: the bound is the hold plus margin.
  expect: { maxWriteUnavailableMs: { fast: 60_000, default: 120_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
