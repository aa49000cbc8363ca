import { defaultStack } from "./versions.ts";
import { PatroniHaStack } from "./stack.ts";
import type { EffectiveProfile } from "../types.ts";

/**
 * Debian 12's Patroni as apt installs it, for callers that name no stack (tests, the benchmark): nothing to
 * fetch, so it is made without a look at the package's checksum; a run that names a stack gets it resolved
 * and checked (stack/index.ts).
 */
export function defaultPatroniStack(): PatroniHaStack {
  const v = defaultStack();
  return new PatroniHaStack(v, { bin: "/usr/bin/patroni", patronictl: "/usr/bin/patronictl", version: v.version, sha256: undefined, source: "Debian package patroni at /usr/bin/patroni" });
}

/** What every run reports about its stack, beside the profile's settings. */
export function stackSettings(stack: PatroniHaStack, effective: EffectiveProfile): Record<string, unknown> {
  return {
    stack: stack.info.name,
    stackInfo: stack.info,
    ...(effective.adjustments.length > 0 ? { adjustedByStack: effective.adjustments } : {}),
    // 4.0+ keeps a departed member's replication slot (and the WAL it holds) this long; 3.x drops it.
    ...(stack.version.rules.memberSlotsTtlSeconds !== null ? { member_slots_ttl: stack.version.rules.memberSlotsTtlSeconds } : {}),
  };
}
