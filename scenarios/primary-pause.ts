import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "primary-pause",
  description:
    "SIGSTOP of Patroni and PostgreSQL on the primary for longer than ttl (a VM freeze, a long GC-like stall), then SIGCONT: the cluster must fail over while it is frozen, and the woken old primary must not accept writes.",
  schedule: [{ fault: { kind: "pause", target: "primary" }, holdMs: { fast: 20_000, default: 45_000 } }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
