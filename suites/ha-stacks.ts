import { defineSuite } from "../harness/gate/suite.ts";

/**
 * The scenarios reports/COMPARISON.md sets side by side across HA software (`npm run compare -- --stacks
 * patroni@3.0.2,patroni@4.0.7,patroni@4.1.5,pg_auto_failover,... --scenarios ha-stacks`): only faults every stack can
 * take (no DCS-member fault, no agent-only kill, no switchover, which repmgr does over ssh), so each row has a cell for
 * each. A kill, a graceful stop, a pause, a machine failure, and four partitions. One run each, fast profile.
 */
export default defineSuite({
  name: "ha-stacks",
  description: "eight scenarios every HA stack can take (Patroni, pg_auto_failover, repmgr), fast profile, one run each",
  entries: [
    { scenario: "primary-kill", profiles: ["fast"], repeat: 1 },
    { scenario: "primary-stop", profiles: ["fast"], repeat: 1 },
    { scenario: "primary-pause", profiles: ["fast"], repeat: 1 },
    { scenario: "primary-node-failure", profiles: ["fast"], repeat: 1 },
    { scenario: "primary-isolate", profiles: ["fast"], repeat: 1 },
    { scenario: "primary-oneway-out", profiles: ["fast"], repeat: 1 },
    { scenario: "majority-minority", profiles: ["fast"], repeat: 1 },
    { scenario: "link-down", profiles: ["fast"], repeat: 1 },
  ],
});
