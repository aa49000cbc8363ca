import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "rolling-restart",
  description:
    "Rolling restart of every member, replicas first, the leader last after a switchover away from it, each awaited before the next (a StatefulSet rolling update with a Patroni-aware operator).",
  schedule: [{ fault: { kind: "rolling-restart" } }],
  recoveryTimeoutMs: 120_000,
  expect: { maxWriteUnavailableMs: 10_000, lostWrites: 0, divergence: false, splitBrain: false },
});
