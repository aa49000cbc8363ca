import { UsageError } from "../../util/errors.ts";

/**
 * The Patroni versions the harness can run ("stacks"), each from one Debian package of Debian's own archive.
 * Adding a version is adding one entry to STACKS. `patroni@3.0.2` is Debian 12's package, installed by apt at
 * /usr/bin/patroni (scripts/setup.sh); the others are downloaded once, checked against the SHA-256 pinned here,
 * and run from a cache on Debian 12's python3 (install.ts).
 */

/** What differs between versions in how Patroni treats the configuration the harness gives it. */
export interface PatroniRules {
  /**
   * ttl, loop_wait and retry_timeout below these are raised to them at run time ("ttl=10 can't be smaller than
   * 20, adjusting...", Config._validate_and_adjust_timeouts, Patroni 3.2+), and `patroni --validate-config` refuses
   * them in bootstrap.dcs. null: no minimum (the value is used as given).
   */
  minimum: { ttl: number | null; loop_wait: number | null; retry_timeout: number | null };
  /**
   * Whether Patroni enforces `loop_wait + 2 * retry_timeout <= ttl` (after raising to the minima): it lowers
   * loop_wait to ttl - 2 * retry_timeout, or, if that would go below 1, sets loop_wait 1 and retry_timeout
   * (ttl - 1) // 2. Without it (3.0.2) the rule is only documented and the values run as given.
   */
  enforcesTimeoutRule: boolean;
  /** `role` of the leader in GET /patroni and in the member's DCS data: 4.0 renamed "master" to "primary". */
  primaryRole: "master" | "primary";
  /**
   * Patroni.ensure_unique_name (4.0+): at start, if the DCS holds a member of the same name whose REST API
   * answers GET /liveness, Patroni logs "Can't start; there is already a node named ... running" and exits 1.
   */
  refusesDuplicateName: boolean;
  /**
   * member_slots_ttl (4.0+, default 1800 s): how long the leader keeps the physical replication slot of a member
   * that left the cluster. null: the version has no such setting (a departed member's slot is dropped).
   */
  memberSlotsTtlSeconds: number | null;
  /**
   * POST /failover with `leader` in its body runs a switchover instead (3.2+, "received failover request with
   * leader specified - performing switchover"), with a switchover's restrictions.
   */
  failoverNamingLeaderIsSwitchover: boolean;
}

export interface PatroniVersion {
  /** What a user types: `patroni@3.0.2`. */
  name: string;
  /** Upstream version, what `patroni --version` prints after "patroni ". */
  version: string;
  /** Whether `patroni` alone means this one. Exactly one entry has it. */
  default: boolean;
  /** Debian suites whose archive carries this package version (the first one is the one it is named after). */
  suites: readonly string[];
  debian: {
    package: "patroni";
    /** Debian package version. */
    version: string;
    /** The .deb's file name in the archive. */
    file: string;
    /** Its path under the archive's root (https://deb.debian.org/debian/<pool>). */
    pool: string;
    /** SHA-256 of the .deb, pinned: a download that does not match is refused. */
    sha256: string;
    /** Size of the .deb in bytes. */
    size: number;
  };
  /**
   * Where it runs from. "system": the Debian 12 package installed by apt (/usr/bin/patroni); "cache": the
   * package extracted into pgchaos' cache and run on Debian 12's /usr/bin/python3 (install.ts).
   */
  install: "system" | "cache";
  rules: PatroniRules;
}

const RULES_3_0: PatroniRules = {
  minimum: { ttl: null, loop_wait: null, retry_timeout: null },
  enforcesTimeoutRule: false,
  primaryRole: "master",
  refusesDuplicateName: false,
  memberSlotsTtlSeconds: null,
  failoverNamingLeaderIsSwitchover: false,
};

/** Read in the 4.0.7 and 4.1.5 packages' config.py, validator.py, __main__.py, global_config.py (identical there). */
const RULES_4: PatroniRules = {
  minimum: { ttl: 20, loop_wait: 1, retry_timeout: 3 },
  enforcesTimeoutRule: true,
  primaryRole: "primary",
  refusesDuplicateName: true,
  memberSlotsTtlSeconds: 1800,
  failoverNamingLeaderIsSwitchover: true,
};

/** One entry per version. SHA-256 measured on two downloads from deb.debian.org (3.0.2's also matches apt's index). */
const STACKS: readonly PatroniVersion[] = [
  {
    name: "patroni@3.0.2",
    version: "3.0.2",
    default: true,
    suites: ["bookworm"],
    debian: {
      package: "patroni",
      version: "3.0.2-1",
      file: "patroni_3.0.2-1_all.deb",
      pool: "pool/main/p/patroni/patroni_3.0.2-1_all.deb",
      sha256: "d2d7058f8edd732053901dcaf04636e4b4cbda12967e53afd452ade1a2099f90",
      size: 178700,
    },
    install: "system",
    rules: RULES_3_0,
  },
  {
    name: "patroni@4.0.7",
    version: "4.0.7",
    default: false,
    suites: ["trixie"],
    debian: {
      package: "patroni",
      version: "4.0.7-3~deb13u1",
      file: "patroni_4.0.7-3~deb13u1_all.deb",
      pool: "pool/main/p/patroni/patroni_4.0.7-3~deb13u1_all.deb",
      sha256: "b8a6d276d3adb0c9b8a6d6198575c6081134bd2038b4780d08a6c34375972931",
      size: 282168,
    },
    install: "cache",
    rules: RULES_4,
  },
  {
    name: "patroni@4.1.5",
    version: "4.1.5",
    default: false,
    suites: ["forky", "sid"],
    debian: {
      package: "patroni",
      version: "4.1.5-2",
      file: "patroni_4.1.5-2_all.deb",
      pool: "pool/main/p/patroni/patroni_4.1.5-2_all.deb",
      sha256: "eeef341d5a4f92d96973934bc49c18a93ba5bc143796468e2d0475c543db9032",
      size: 287368,
    },
    install: "cache",
    rules: RULES_4,
  },
];

/** Every known stack, default first. Copies: changing one leaks nowhere. */
export function listStacks(): PatroniVersion[] {
  return [...STACKS].sort((a, b) => Number(b.default) - Number(a.default)).map((s) => structuredClone(s));
}

export function defaultStack(): PatroniVersion {
  return structuredClone(STACKS.find((s) => s.default)!);
}

/**
 * `patroni@X.Y.Z` (a known version) or `patroni` (the default). Anything else is a UsageError that lists the
 * known stacks.
 */
export function parseStack(s: string): PatroniVersion {
  if (s === "patroni") return defaultStack();
  const found = STACKS.find((st) => st.name === s);
  if (found) return structuredClone(found);
  const known = listStacks()
    .map((st) => `${st.name}${st.default ? " (default, also: patroni)" : ""}`)
    .join(", ");
  throw new UsageError(`unknown stack "${s}": choose one of ${known}`);
}

/** A stack by its version ("4.0.7"), by its name ("patroni@4.0.7"), or "patroni"; UsageError otherwise. */
export function stackOf(versionOrName: string): PatroniVersion {
  const byVersion = STACKS.find((st) => st.version === versionOrName);
  return byVersion ? structuredClone(byVersion) : parseStack(versionOrName);
}

export interface DcsTimings {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
}

/**
 * The ttl, loop_wait and retry_timeout a Patroni of these rules runs with when given `t`: the port of
 * Config._validate_and_adjust_timeouts (4.x) so a report can state what ran, not what was asked.
 */
export function effectiveTimings(rules: PatroniRules, t: DcsTimings): DcsTimings {
  const min = rules.minimum;
  const loop_wait = min.loop_wait !== null ? Math.max(t.loop_wait, min.loop_wait) : t.loop_wait;
  const retry_timeout = min.retry_timeout !== null ? Math.max(t.retry_timeout, min.retry_timeout) : t.retry_timeout;
  const ttl = min.ttl !== null ? Math.max(t.ttl, min.ttl) : t.ttl;
  if (!rules.enforcesTimeoutRule) return { ttl, loop_wait, retry_timeout };
  const minLoopWait = 1;
  if (minLoopWait + 2 * retry_timeout > ttl) return { ttl, loop_wait: minLoopWait, retry_timeout: Math.floor((ttl - minLoopWait) / 2) };
  if (loop_wait + 2 * retry_timeout > ttl) return { ttl, loop_wait: ttl - 2 * retry_timeout, retry_timeout };
  return { ttl, loop_wait, retry_timeout };
}
