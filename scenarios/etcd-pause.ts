import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "etcd-pause",
  description: "SIGSTOP of the etcd leader for 15 s (a stalled disk or VM), then SIGCONT: the other members elect a new leader.",
  schedule: [{ fault: { kind: "dcs-pause", target: "dcs-leader" }, holdMs: 15_000 }],
  expect: { maxWriteUnavailableMs: { fast: 15_000, default: 30_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
