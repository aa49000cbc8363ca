/**
 * The one member image of the container platforms: docker runs it, kind and minikube load it into their nodes, and a
 * cluster reached by context pulls it from wherever `npm run image` pushed it. fixtures/image/ holds its Dockerfile
 * and the pod's init and control scripts; nothing is pulled where no registry answers.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { PatroniHaStack } from "../stack/patroni/stack.ts";
import { imageStackDir, launcher, sitePackages } from "../stack/patroni/install.ts";
import { execa } from "execa";
import { EnvironmentError } from "../util/errors.ts";

export const IMAGE_FIXTURES = resolve(import.meta.dirname, "../../fixtures/image");
export const DOCKER = existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";
const MIRROR = "http://deb.debian.org/debian";
/** Debian 12's Patroni, what the member image carries before a stack layer (versions.ts, the default stack). */
const BOOKWORM_PATRONI = "3.0.2";
/** Our own Debian 12, made by debootstrap: what a machine without a registry builds on. */
export const DEBOOTSTRAP_BASE = "pgchaos/debian:bookworm-minbase";
/** Debian 12 from a registry, for machines where debootstrap cannot run (macOS, Windows, no root). */
export const REGISTRY_BASE = "debian:bookworm-slim";

export interface ImageRecipe {
  /** The base image, and whether we make it with debootstrap (else docker build pulls it). */
  base: { ref: string; debootstrap: boolean };
  /** apt-get install arguments: `name=version` where this machine's dpkg knows the version. */
  packages: string[];
  /** Every package is at the version the local platform runs here. */
  pinned: boolean;
  dockerfile: string;
  scripts: Record<string, string>;
  /** `pgchaos/member:patroni-3.0.2-pg15-<hash of all of the above>`. */
  tag: string;
  /** The Patroni the image carries (its build checks it). */
  patroni: string;
}

export interface RecipeInputs {
  /** PGCHAOS_IMAGE_BASE: `debootstrap`, or an image reference to build on. */
  base?: string;
  /** Whether debootstrap can run here (root on Linux with debootstrap installed). */
  canDebootstrap?: boolean;
  /** Whether the engine has our debootstrapped base already (built by root earlier): then nothing is pulled either. */
  debootstrapBaseBuilt?: boolean;
  /** The installed version of a Debian package, undefined where there is no dpkg or no such package. */
  installed?: (pkg: string) => string | undefined;
}

/**
 * What goes into the member image. Where this machine runs the local platform on Debian 12 with the packages installed,
 * the packages are pinned to its versions, so local and container runs compare like for like; elsewhere (macOS,
 * Ubuntu, another Debian) they are bookworm's current ones, and `pinned` says so. The tag names the Patroni it carries (the
 * Kubernetes platforms refuse a tag with no version) and hashes everything, so a change builds a new image.
 */
export function imageRecipe(inputs: RecipeInputs = {}): ImageRecipe {
  const installed = inputs.installed ?? (hostIsBookworm() ? bookwormInstalledVersion : () => undefined);
  const canDebootstrap = inputs.canDebootstrap ?? (existsSync("/usr/sbin/debootstrap") && process.getuid?.() === 0);
  const asked = inputs.base ?? (process.env.PGCHAOS_IMAGE_BASE || undefined);
  const debootstrap = asked === "debootstrap" || (asked === undefined && (canDebootstrap || inputs.debootstrapBaseBuilt === true));
  if (asked === "debootstrap" && !canDebootstrap && !inputs.debootstrapBaseBuilt) {
    throw new EnvironmentError("PGCHAOS_IMAGE_BASE=debootstrap needs debootstrap and root on Linux: `npm run setup` installs it, or unset PGCHAOS_IMAGE_BASE to build on debian:bookworm-slim");
  }
  const base = { ref: debootstrap ? DEBOOTSTRAP_BASE : (asked ?? REGISTRY_BASE), debootstrap };
  const versions = ["postgresql-15", "patroni", "etcd-server", "etcd-client", "haproxy"].map((p) => [p, installed(p)] as const);
  const packages = [...versions.map(([p, v]) => (v ? `${p}=${v}` : p)), "python3-psycopg2", "iproute2", "iptables", "procps", "ca-certificates"];
  const dockerfile = readFileSync(join(IMAGE_FIXTURES, "Dockerfile"), "utf8");
  const scripts = {
    "pod-init.sh": readFileSync(join(IMAGE_FIXTURES, "pod-init.sh"), "utf8"),
    "pgchaos-ctl.sh": readFileSync(join(IMAGE_FIXTURES, "pgchaos-ctl.sh"), "utf8"),
  };
  const hash = createHash("sha256").update(JSON.stringify({ base, packages, dockerfile, scripts })).digest("hex").slice(0, 12);
  return { base, packages, pinned: versions.every(([, v]) => v !== undefined), dockerfile, scripts, tag: `pgchaos/member:patroni-${BOOKWORM_PATRONI}-pg15-${hash}`, patroni: BOOKWORM_PATRONI };
}

/**
 * Whether this machine is Debian 12, whose installed versions the image can pin: another system's (Ubuntu's patroni,
 * PGDG's postgresql-15) are not in bookworm's archive.
 */
export function hostIsBookworm(osRelease = "/etc/os-release"): boolean {
  try {
    const text = readFileSync(osRelease, "utf8");
    return /^ID=debian$/m.test(text) && /^VERSION_CODENAME=bookworm$/m.test(text);
  } catch {
    return false;
  }
}

/**
 * Asked once per process for every package the image pins, in one `apt-cache policy`: each call loads apt's whole
 * cache (1 to 2 s on a busy machine with other suites' lists), so asking package by package took 5 to 10 s (a test
 * timed out on it in CI).
 */
const PINNED_PACKAGES = ["postgresql-15", "patroni", "etcd-server", "etcd-client", "haproxy"];
const policyCache = new Map<string, string | undefined>();

/**
 * The installed version of `pkg` when Debian 12's archive serves it (bookworm, -updates or -security): a version from
 * another origin (PGDG, backports) or one the archive no longer has (a host behind on updates) cannot be pinned in an
 * image built from the archive, so the image takes bookworm's current one instead.
 */
function bookwormInstalledVersion(pkg: string): string | undefined {
  if (!policyCache.has(pkg)) {
    const ask = [...new Set([pkg, ...PINNED_PACKAGES.filter((p) => !policyCache.has(p))])];
    let sections: Map<string, string>;
    try {
      sections = policySections(execFileSync("apt-cache", ["policy", ...ask], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
    } catch {
      sections = new Map();
    }
    for (const p of ask) policyCache.set(p, bookwormVersionIn(sections.get(p) ?? ""));
  }
  return policyCache.get(pkg);
}

/** `apt-cache policy a b c` cut into each package's part (each starts with "name:" at the start of a line). */
export function policySections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (name !== undefined) out.set(name, lines.join("\n"));
  };
  for (const l of text.split("\n")) {
    const m = /^(\S+):$/.exec(l);
    if (m) {
      flush();
      name = m[1];
      lines = [l];
    } else lines.push(l);
  }
  flush();
  return out;
}

/** From `apt-cache policy` of one package: its installed version, if one of its origins is Debian 12's archive. */
export function bookwormVersionIn(policy: string): string | undefined {
  const lines = policy.split("\n");
  const at = lines.findIndex((l) => l.startsWith(" *** "));
  if (at < 0) return undefined;
  const version = lines[at]!.slice(5).trim().split(/\s+/)[0];
  for (const l of lines.slice(at + 1)) {
    if (!/^ {8}/.test(l)) break;
    if (/ (bookworm|bookworm-updates|bookworm-security)\/main /.test(l)) return version;
  }
  return undefined;
}

/** Where a stack other than Debian 12's Patroni sits in the image. */
export function stackDir(stack: PatroniHaStack): string {
  return imageStackDir(stack.version.version);
}

/** `python3 -c FETCH_CHECKED URL SHA256 FILE`: downloads URL into FILE only when its SHA-256 is the one given. */
export const FETCH_CHECKED =
  'import hashlib, sys, urllib.request; d = urllib.request.urlopen(sys.argv[1], timeout=60).read(); h = hashlib.sha256(d).hexdigest(); h == sys.argv[2] or sys.exit("sha256 " + h + " of " + sys.argv[1] + " is not the pinned " + sys.argv[2]); open(sys.argv[3], "wb").write(d)';

/**
 * The layer that puts a stack other than Debian 12's Patroni on the member image, made inside the build from
 * Debian's archive, as install.ts does here: the package downloaded, checked against its pinned SHA-256 and name and
 * version, extracted, and run on the image's python3 by the same launchers. Nothing of this machine's goes in, so
 * it builds where Patroni is not installed (Docker Desktop on macOS).
 */
export function stackLayer(stack: PatroniHaStack, member: string): { dockerfile: string; files: Record<string, string>; tag: string } | undefined {
  const v = stack.version;
  if (v.install === "system") return undefined;
  const dir = stackDir(stack);
  const site = sitePackages(dir);
  const files = { "patroni": launcher(v, site, "patroni.__main__", "main"), "patronictl": launcher(v, site, "patroni.ctl", "ctl") };
  const url = `${MIRROR}/${v.debian.pool}`;
  const dockerfile = `FROM ${member}
COPY patroni patronictl ${dir}/bin/
RUN set -eux; \\
    python3 -c '${FETCH_CHECKED}' ${url} ${v.debian.sha256} /tmp/stack.deb; \\
    test "$(dpkg-deb -f /tmp/stack.deb Package Version | tr '\\n' ' ')" = "Package: ${v.debian.package} Version: ${v.debian.version} "; \\
    dpkg-deb -x /tmp/stack.deb ${dir}/root; rm /tmp/stack.deb; \\
    chmod 0755 ${dir}/bin/patroni ${dir}/bin/patronictl; \\
    ln -sf ${dir}/bin/patroni /usr/local/bin/patroni; ln -sf ${dir}/bin/patronictl /usr/local/bin/patronictl; \\
    test "$(patroni --version)" = "patroni ${v.version}"
`;
  const hash = createHash("sha256").update(JSON.stringify({ member, dockerfile, files })).digest("hex").slice(0, 12);
  return { dockerfile, files, tag: `pgchaos/member:patroni-${v.version}-pg15-${hash}` };
}

/** The recipe for the engine at `host`: on our debootstrapped base when that engine has it, whoever asks. */
export async function recipeFor(host: string, opts: { unpinned?: boolean } = {}): Promise<ImageRecipe> {
  return imageRecipe({ debootstrapBaseBuilt: await imageExists(host, DEBOOTSTRAP_BASE), ...(opts.unpinned ? { installed: () => undefined } : {}) });
}

/** apt's answer when a pinned version is not in the archive any more (this machine's package lists were stale). */
export function versionGone(buildOutput: string): boolean {
  return /E: Version '[^']+' for '[^']+' was not found/.test(buildOutput);
}

export async function imageExists(host: string, tag: string): Promise<boolean> {
  const r = await execa(DOCKER, ["-H", host, "image", "inspect", tag], { reject: false });
  return r.exitCode === 0;
}

/**
 * The image that runs `stack` (Debian 12's Patroni when undefined), built on the Docker engine at `host` when it is
 * missing: the base, then the recipe's packages from Debian's archive, then the stack's layer. Each is cached by tag.
 */
export async function ensureImage(host: string, say: (line: string) => void, signal?: AbortSignal, stack?: PatroniHaStack): Promise<string> {
  let recipe = await recipeFor(host);
  const member = await ensureMemberImage(host, recipe, say, signal).catch(async (e: unknown) => {
    if (!recipe.pinned || !versionGone(String(e))) throw e;
    // This machine's versions are gone from the archive (its package lists are older than the archive): bookworm's
    // current ones, and the image says so (not pinned, another tag).
    say(`a pinned version is not in Debian's archive any more (run apt-get update here to pin again): building with bookworm's current versions`);
    recipe = await recipeFor(host, { unpinned: true });
    return ensureMemberImage(host, recipe, say, signal);
  });
  const layer = stack && stackLayer(stack, member);
  if (!stack || !layer || (await imageExists(host, layer.tag))) return layer?.tag ?? member;
  const ctx = mkdtempSync(join(tmpdir(), "pgchaos-stack-image-"));
  try {
    writeFileSync(join(ctx, "Dockerfile"), layer.dockerfile);
    for (const [name, text] of Object.entries(layer.files)) writeFileSync(join(ctx, name), text);
    say(`building ${layer.tag} (${stack.info.name} from Debian's archive on the member image)`);
    await dockerBuild(host, layer.tag, ctx, ["--network", "host"], signal);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return layer.tag;
}

/** `docker build` that throws an EnvironmentError with the end of its output; a failed build leaves no container. */
export async function dockerBuild(host: string, tag: string, ctx: string, args: string[], signal?: AbortSignal): Promise<void> {
  // --force-rm: a failed step leaves no intermediate container behind.
  await execa(DOCKER, ["-H", host, "build", "--force-rm", ...args, "-t", tag, ctx], { cancelSignal: signal, all: true }).catch((e: { all?: string }) => {
    throw new EnvironmentError(`docker build of ${tag} failed:\n${String(e.all ?? e).split("\n").slice(-15).join("\n")}`);
  });
}

async function ensureMemberImage(host: string, r: ImageRecipe, say: (line: string) => void, signal?: AbortSignal): Promise<string> {
  if (await imageExists(host, r.tag)) return r.tag;
  if (r.base.debootstrap && !(await imageExists(host, r.base.ref))) {
    const root = mkdtempSync(join(tmpdir(), "pgchaos-rootfs-"));
    try {
      say(`building ${r.base.ref} with debootstrap from ${MIRROR} (about 30 s, once)`);
      await execa("debootstrap", ["--variant=minbase", "bookworm", root, MIRROR], { cancelSignal: signal });
      // Imported under a name of its own and tagged only when the whole import succeeded: a partial root file system
      // must never carry the tag that says "built".
      const partial = `${r.base.ref}-partial`;
      await execa("bash", ["-o", "pipefail", "-c", `tar -C '${root}' -c . | '${DOCKER}' -H '${host}' import - '${partial}'`], { cancelSignal: signal });
      await execa(DOCKER, ["-H", host, "tag", partial, r.base.ref]);
      await execa(DOCKER, ["-H", host, "rmi", partial], { reject: false });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  const ctx = mkdtempSync(join(tmpdir(), "pgchaos-image-"));
  try {
    writeFileSync(join(ctx, "Dockerfile"), r.dockerfile);
    for (const [name, text] of Object.entries(r.scripts)) writeFileSync(join(ctx, name), text);
    say(`building ${r.tag} on ${r.base.ref} from Debian's archive (about 40 s, once)`);
    await dockerBuild(host, r.tag, ctx, ["--network", "host", "--build-arg", `BASE=${r.base.ref}`, "--build-arg", `PACKAGES=${r.packages.join(" ")}`, "--build-arg", `PATRONI=${r.patroni}`], signal);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return r.tag;
}
