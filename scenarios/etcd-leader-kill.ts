import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "etcd-leader-kill",
  description: "SIGKILL of the etcd member that leads the DCS; it comes back 10 s later. etcd elects a new leader within its election timeout; Patroni should not notice much.",
  schedule: [{ fault: { kind: "dcs-kill", target: "dcs-leader" }, holdMs: 10_000 }],
  expect: { maxWriteUnavailableMs: { fast: 10_000, default: 20_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
