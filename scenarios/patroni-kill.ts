import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "patroni-kill",
  description:
    "SIGKILL of the primary's Patroni alone: PostgreSQL keeps running unmanaged while the leader key expires and a replica is promoted. The old primary keeps accepting writes from clients beside it until Patroni comes back: a real split-brain window that depends on ttl.",
  schedule: [{ fault: { kind: "patroni-kill", target: "primary" }, holdMs: { fast: 20_000, default: 45_000 } }],
  expect: {
    maxWriteUnavailableMs: { fast: 30_000, default: 60_000 },
    // Writes through the primary service move to the new primary; a client next to the old one keeps writing.
    lostWrites: 0,
    divergence: false,
    splitBrain: false,
  },
});
