/**
 * For the Kubernetes platforms' unit tests: a 4.x stack as a run would resolve it (nothing is installed or built),
 * and the member image tag a run would compute for it.
 */
import { PatroniHaStack } from "../../stack/patroni/stack.ts";
import { parseStack } from "../../stack/patroni/versions.ts";

export const TEST_IMAGE = "pgchaos/member:patroni-4.0.7-pg15-0123456789ab";

export function testStack(name: "patroni@3.0.2" | "patroni@4.0.7" | "patroni@4.1.5" = "patroni@4.0.7"): PatroniHaStack {
  const version = parseStack(name);
  const bin = name === "patroni@3.0.2" ? "/usr/bin/patroni" : `/var/cache/pgchaos/stacks/patroni-${version.version}/bin/patroni`;
  return new PatroniHaStack(version, { bin, patronictl: bin.replace(/patroni$/, "patronictl"), version: version.version, sha256: version.debian.sha256, source: "test" });
}
