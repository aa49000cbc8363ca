import { defineSuite } from "../harness/gate/suite.ts";

/** A few minutes on the local platform: the two failovers every change must not break. */
export default defineSuite({
  name: "smoke",
  description: "primary-kill and switchover on the fast profile, 3 runs each",
  entries: [
    { scenario: "primary-kill", profiles: ["fast"], repeat: 3 },
    { scenario: "switchover", profiles: ["fast"], repeat: 3 },
  ],
});
