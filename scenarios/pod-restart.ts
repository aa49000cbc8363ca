import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "pod-restart",
  description:
    "SIGKILL of the primary's Patroni and PostgreSQL with a quick restart (3 s, well inside ttl), as a kubelet restarts a crashed pod: Patroni finds its own leader key and the same node resumes as primary.",
  schedule: [{ fault: { kind: "kill", target: "primary" }, holdMs: 3000 }],
  expect: {
    maxWriteUnavailableMs: { fast: 30_000, default: 60_000 },
    lostWrites: 0,
    divergence: false,
  },
});
