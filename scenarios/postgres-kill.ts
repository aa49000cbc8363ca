import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "postgres-kill",
  description:
    "SIGKILL of the primary's postmaster and every backend while Patroni keeps running (an OOM kill of PostgreSQL): Patroni restarts PostgreSQL in place, or the cluster fails over if that takes too long.",
  schedule: [{ fault: { kind: "postgres-kill", target: "primary" }, holdMs: 10_000 }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
