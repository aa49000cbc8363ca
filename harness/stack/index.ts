import { listStacks, parseStack, defaultStack } from "./patroni/versions.ts";
import { ensurePatroni, imageStackDir } from "./patroni/install.ts";
import { PatroniHaStack } from "./patroni/stack.ts";

/**
 * The stack a run asked for (`--stack`), installed and checked: Debian 12's Patroni as apt installed it, or
 * another version from pgchaos' cache, downloaded from Debian's archive and verified on first use.
 */
export async function resolveStack(name: string | undefined, opts: { log?: (line: string) => void; signal?: AbortSignal } = {}): Promise<PatroniHaStack> {
  const version = name === undefined ? defaultStack() : parseStack(name);
  return new PatroniHaStack(version, await ensurePatroni(version, opts));
}

/**
 * A stack as the container platforms run it: inside their member image (platform/image.ts builds it for the stack,
 * from Debian's archive), so nothing is installed or checked on this machine, which may not be Linux at all.
 */
export function describeStack(name: string | undefined): PatroniHaStack {
  const version = name === undefined ? defaultStack() : parseStack(name);
  const system = version.install === "system";
  const bin = system ? "/usr/bin" : `${imageStackDir(version.version)}/bin`;
  const source = system
    ? `Debian 12's ${version.debian.package} package, in the member image`
    : `Debian ${version.suites.join("/")}'s ${version.debian.file} (SHA-256 checked in the image build), in the member image at ${imageStackDir(version.version)}`;
  return new PatroniHaStack(version, { bin: `${bin}/patroni`, patronictl: `${bin}/patronictl`, version: version.version, sha256: version.debian.sha256, source });
}

/** Validates a stack name before anything starts (UsageError listing the known ones). */
export function checkStackName(name: string): void {
  parseStack(name);
}

/** One line per known stack, for `--list-stacks`. */
export function stackLines(): string[] {
  return listStacks().map(
    (s) => `${s.name.padEnd(16)} Patroni ${s.version} from Debian ${s.suites.join("/")} (${s.debian.file}, sha256 ${s.debian.sha256.slice(0, 12)}…)${s.default ? " [default]" : ""}${s.install === "system" ? ", installed by npm run setup" : ", fetched by npm run setup or on first use"}`,
  );
}

export { PatroniHaStack };
