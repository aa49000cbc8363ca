import { defineSuite } from "../harness/gate/suite.ts";
import { listScenarios } from "../harness/scenario/loader.ts";

/** Every scenario in scenarios/ (a new file joins by itself) under both profiles, 3 runs each. */
export default defineSuite({
  name: "full",
  description: "every scenario, profiles fast and default, 3 runs each",
  entries: listScenarios().map((scenario) => ({ scenario, profiles: ["fast", "default"], repeat: 3 })),
});
