import { defineSuite } from "../harness/gate/suite.ts";

/**
 * The scenarios reports/COMPARISON.md sets side by side across HA stacks (`npm run compare -- --stacks ...
 * --scenarios stacks`): failover by kill and switchover, the partitions and the pause under which Patroni
 * 3.0.2 lost acknowledged writes, a Patroni-only kill and a DCS leader kill. One run each, fast profile.
 */
export default defineSuite({
  name: "stacks",
  description: "eight scenarios for comparing HA stacks, fast profile, one run each",
  entries: [
    { scenario: "primary-kill", profiles: ["fast"], repeat: 1 },
    { scenario: "switchover", profiles: ["fast"], repeat: 1 },
    { scenario: "primary-isolate", profiles: ["fast"], repeat: 1 },
    { scenario: "primary-oneway-out", profiles: ["fast"], repeat: 1 },
    { scenario: "primary-pause", profiles: ["fast"], repeat: 1 },
    { scenario: "link-down", profiles: ["fast"], repeat: 1 },
    { scenario: "patroni-kill", profiles: ["fast"], repeat: 1 },
    { scenario: "etcd-leader-kill", profiles: ["fast"], repeat: 1 },
  ],
});
