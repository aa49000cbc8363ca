import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "primary-latency",
  description: "200 ms of added latency on the primary's link for 30 s (netem). Refused, with the reason, on kernels without sch_netem.",
  schedule: [{ fault: { kind: "latency", target: "primary", delayMs: 200 }, holdMs: 30_000 }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
