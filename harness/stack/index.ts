import { listStacks, parseStack, defaultStack } from "./patroni/versions.ts";
import { ensurePatroni, imageStackDir } from "./patroni/install.ts";
import { PatroniHaStack, PATRONI_CAPABILITIES } from "./patroni/stack.ts";
import { PGAF_CAPABILITIES, PGAF_NAME, PG_AUTOCTL, PgAutoFailoverHaStack } from "./pg-auto-failover/stack.ts";
import { REPMGR_BIN, REPMGR_CAPABILITIES, REPMGR_NAME, REPMGR_NO_SWITCHOVER, RepmgrHaStack } from "./repmgr/stack.ts";
import type { HaStack, StackCapability } from "./types.ts";
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { EnvironmentError, UsageError } from "../util/errors.ts";

/** Stacks that are not Patroni, by the name a user types. They run on the local platform. */
const OTHER_STACKS: Record<string, { capabilities: ReadonlySet<StackCapability>; whyNot?: Partial<Record<StackCapability, string>>; line: string }> = {
  [REPMGR_NAME]: {
    capabilities: REPMGR_CAPABILITIES,
    whyNot: {
      switchover: REPMGR_NO_SWITCHOVER,
      failover: "a manual promotion beside a live primary would make two primaries",
      "agent-process": "repmgrd runs beside PostgreSQL but does not manage it; killing it alone changes nothing a client sees",
      "dcs-members": "repmgr has no coordination service",
      dcs: "repmgr has no coordination service: repmgrd on each node decides alone",
      backup: "backups and restores are wired for Patroni (pgBackRest and its custom bootstrap) only, for now",
    },
    line: "repmgr 5.3 with repmgrd from Debian 12 (postgresql-15-repmgr): no consensus, no fencing, manual rejoin; local platform, installed by npm run setup",
  },
  [PGAF_NAME]: {
    capabilities: PGAF_CAPABILITIES,
    whyNot: {
      "dcs-members": "its monitor is one PostgreSQL on a host of its own, not a member on each node",
      "agent-process": "pg_autoctl supervises PostgreSQL as its child",
      backup: "backups and restores are wired for Patroni (pgBackRest and its custom bootstrap) only, for now",
    },
    line: "pg_auto_failover 2.0 from Debian 12 (pg-auto-failover-cli, postgresql-15-auto-failover): a monitor on a host of its own and a keeper a member; local platform, installed by npm run setup",
  },
};

/** repmgr as installed here: its version as repmgr prints it, and the Debian package's. */
function ensureRepmgr(): RepmgrHaStack {
  if (!existsSync(REPMGR_BIN)) throw new EnvironmentError(`${REPMGR_NAME} needs ${REPMGR_BIN}: run \`npm run setup\` (it installs Debian 12's postgresql-15-repmgr)`);
  const out = execFileSync(REPMGR_BIN, ["--version"], { encoding: "utf8" });
  const version = /repmgr (\S+)/.exec(out)?.[1] ?? "unknown";
  return new RepmgrHaStack({ version, packageVersion: debianVersion("postgresql-15-repmgr") });
}

function debianVersion(pkg: string): string | undefined {
  try {
    return execFileSync("dpkg-query", ["-W", "-f=${Version}", pkg], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** pg_auto_failover as installed here: its version as pg_autoctl prints it, and the Debian package's. */
function ensurePgAutoFailover(): PgAutoFailoverHaStack {
  if (!existsSync(PG_AUTOCTL)) throw new EnvironmentError(`${PGAF_NAME} needs ${PG_AUTOCTL}: run \`npm run setup\` (it installs Debian 12's pg-auto-failover-cli and postgresql-15-auto-failover)`);
  const extension = "/usr/share/postgresql/15/extension/pgautofailover.control";
  if (!existsSync(extension)) throw new EnvironmentError(`${PGAF_NAME}'s monitor needs the pgautofailover extension (${extension}): run \`npm run setup\` (it installs postgresql-15-auto-failover)`);
  const out = execFileSync(PG_AUTOCTL, ["--version"], { encoding: "utf8" });
  const version = /pg_autoctl version (\S+)/.exec(out)?.[1] ?? "unknown";
  return new PgAutoFailoverHaStack({ version, packageVersion: debianVersion("pg-auto-failover-cli") });
}

/**
 * The stack a run asked for (`--stack`), installed and checked: Debian 12's Patroni as apt installed it, or
 * another version from pgchaos' cache, downloaded from Debian's archive and verified on first use.
 */
export async function resolveStack(name: string | undefined, opts: { log?: (line: string) => void; signal?: AbortSignal } = {}): Promise<HaStack> {
  if (name === PGAF_NAME) return ensurePgAutoFailover();
  if (name === REPMGR_NAME) return ensureRepmgr();
  return resolvePatroni(name, opts);
}

/** A Patroni stack, installed and checked (see resolveStack). */
export async function resolvePatroni(name: string | undefined, opts: { log?: (line: string) => void; signal?: AbortSignal } = {}): Promise<PatroniHaStack> {
  const version = name === undefined ? defaultStack() : parseStack(name);
  return new PatroniHaStack(version, await ensurePatroni(version, opts));
}

/**
 * A stack as the container platforms run it: inside their member image (platform/image.ts builds it for the stack,
 * from Debian's archive), so nothing is installed or checked on this machine, which may not be Linux at all.
 */
export function describeStack(name: string | undefined, platform = "container"): PatroniHaStack {
  if (name !== undefined && name in OTHER_STACKS) throw new UsageError(`${name} runs on the local platform only, for now (--platform local): the ${platform} platform's member image carries Patroni`);
  const version = name === undefined ? defaultStack() : parseStack(name);
  const system = version.install === "system";
  const bin = system ? "/usr/bin" : `${imageStackDir(version.version)}/bin`;
  const source = system
    ? `Debian 12's ${version.debian.package} package, in the member image`
    : `Debian ${version.suites.join("/")}'s ${version.debian.file} (SHA-256 checked in the image build), in the member image at ${imageStackDir(version.version)}`;
  return new PatroniHaStack(version, { bin: `${bin}/patroni`, patronictl: `${bin}/patronictl`, version: version.version, sha256: version.debian.sha256, source });
}

/** Validates a stack name before anything starts (UsageError listing the known ones). */
export function checkStackName(name: string, platform?: { name: string; stacksInImage?: boolean }): void {
  if (Object.hasOwn(OTHER_STACKS, name)) {
    if (platform?.stacksInImage) describeStack(name, platform.name);
    return;
  }
  try {
    parseStack(name);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${e.message}, ${Object.keys(OTHER_STACKS).join(", ")}`);
    throw e;
  }
}

/** What a stack can be asked to do, by its name (before it is installed or deployed), and why not where it cannot. */
export function stackCapabilities(name: string): { capabilities: ReadonlySet<StackCapability>; whyNot?: Partial<Record<StackCapability, string>> } {
  return Object.hasOwn(OTHER_STACKS, name) ? OTHER_STACKS[name]! : { capabilities: PATRONI_CAPABILITIES };
}

/** One line per known stack, for `--list-stacks`. */
export function stackLines(): string[] {
  return [...patroniLines(), ...Object.entries(OTHER_STACKS).map(([name, s]) => `${name.padEnd(16)} ${s.line}`)];
}

function patroniLines(): string[] {
  return listStacks().map(
    (s) => `${s.name.padEnd(16)} Patroni ${s.version} from Debian ${s.suites.join("/")} (${s.debian.file}, sha256 ${s.debian.sha256.slice(0, 12)}…)${s.default ? " [default]" : ""}${s.install === "system" ? ", installed by npm run setup" : ", fetched by npm run setup or on first use"}`,
  );
}

export { PatroniHaStack };

/** A stack name as runs and reports write it ("patroni" becomes Debian 12's "patroni@3.0.2"); UsageError for an unknown one. */
export function canonicalStack(name: string): { name: string } {
  if (Object.hasOwn(OTHER_STACKS, name)) return { name };
  checkStackName(name);
  return { name: parseStack(name).name };
}
