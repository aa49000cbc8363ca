import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "packet-loss",
  description: "30% random loss of every packet the primary's node receives (peers and clients), for 30 s: retries, timeouts, maybe a failover.",
  schedule: [{ fault: { kind: "packet-loss", target: "primary", probability: 0.3 }, holdMs: 30_000 }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
