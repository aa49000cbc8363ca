import { defineSuite } from "../harness/gate/suite.ts";

/**
 * FINDINGS items 1 and 9 (Patroni 3.0.2 takes the leader key back after a partition or a pause and rewinds
 * the new primary's acknowledged writes away), re-measured on newer Patroni: the three scenarios where it
 * happened, both profiles, three runs each.
 */
export default defineSuite({
  name: "leader-key",
  description: "primary-isolate, primary-pause and link-down, fast and default profiles, 3 runs each",
  entries: [
    { scenario: "primary-isolate", profiles: ["fast", "default"], repeat: 3 },
    { scenario: "primary-pause", profiles: ["fast", "default"], repeat: 3 },
    { scenario: "link-down", profiles: ["fast", "default"], repeat: 3 },
  ],
});
