import type { Platform } from "../types.ts";
import { LocalCluster } from "./cluster.ts";
import { localPreflight } from "./preflight.ts";

/** The embedded default: one network namespace per node on this machine. */
export const localPlatform: Platform = {
  name: "local",
  preflight: async () => localPreflight(),
  deploy: (spec) => LocalCluster.deploy(spec),
};
