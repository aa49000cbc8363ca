import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "primary-isolate",
  description:
    "The primary's node is cut off from every other node and from the clients (the primary service) for longer than ttl; only a probe beside it still reaches it. A replica must take over and the isolated node must stop accepting writes before it does.",
  schedule: [{ fault: { kind: "partition", shape: "isolate", target: "primary" }, holdMs: { fast: 25_000, default: 60_000 } }],
  expect: { maxWriteUnavailableMs: { fast: 30_000, default: 60_000 }, lostWrites: 0, divergence: false, splitBrain: false },
});
