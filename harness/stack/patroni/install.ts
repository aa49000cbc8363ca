import { execFile } from "node:child_process";
import { processExists } from "../../util/pid.ts";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { access, chmod, constants, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { EnvironmentError, errorMessage } from "../../util/errors.ts";
import { stackOf, type PatroniVersion } from "./versions.ts";

/**
 * Makes a Patroni version runnable (versions.ts). Debian 12's own (3.0.2) is the apt package at /usr/bin/patroni.
 * Any other is Debian's .deb of another suite, downloaded from Debian's archive, checked against its pinned
 * SHA-256, extracted with `dpkg-deb -x` into a cache outside the checkout and run on Debian 12's /usr/bin/python3
 * with its python3 modules (the bookworm `patroni` package's dependencies: psycopg2, urllib3, click, ...).
 *
 * Cache layout, one directory per version, made whole in a temporary directory and renamed into place:
 *
 *   $PGCHAOS_CACHE (default /var/cache/pgchaos)/stacks/patroni-4.0.7/
 *     bin/patroni       launcher (python3 script): puts root/usr/lib/python3/dist-packages first on sys.path and
 *                       in PYTHONPATH, then runs patroni.__main__:main
 *     bin/patronictl    the same for patroni.ctl:ctl
 *     root/             the .deb extracted (dpkg-deb -x): usr/lib/python3/dist-packages/patroni, ...
 *     patroni_4.0.7-3~deb13u1_all.deb   the verified package
 *     stack.json        what was installed: name, versions, file, sha256, url, when
 *
 * Every directory is 0755 and every file readable by all: the harness runs Patroni as the postgres user.
 */

export interface EnsuredPatroni {
  /** Executable that runs Patroni: `<bin> <config.yml>`. */
  bin: string;
  /** Executable that runs patronictl. */
  patronictl: string;
  /** Upstream version, as `<bin> --version` printed it. */
  version: string;
  /** SHA-256 of the .deb it came from, when known. */
  sha256: string | undefined;
  /** Where it came from, in words, for a run's report. */
  source: string;
}

export interface EnsureOptions {
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Cache root; default $PGCHAOS_CACHE or /var/cache/pgchaos. */
  cacheRoot?: string;
  /** For tests: what downloads. */
  fetch?: typeof fetch;
}

/** Debian's archive: the only host this module contacts. HTTPS first; HTTP when HTTPS cannot connect (the pinned SHA-256 is what guarantees the bytes). */
export const DEBIAN_ARCHIVE_HOST = "deb.debian.org";
const ARCHIVE_URLS = [`https://${DEBIAN_ARCHIVE_HOST}/debian/`, `http://${DEBIAN_ARCHIVE_HOST}/debian/`];
const PYTHON = "/usr/bin/python3";
const SYSTEM_PATRONI = "/usr/bin/patroni";
const SYSTEM_PATRONICTL = "/usr/bin/patronictl";
const APT_ARCHIVES = "/var/cache/apt/archives";
/** A Patroni .deb is under 1 MB; a response far larger than its pinned size is not it. */
const MAX_DOWNLOAD_BYTES = 16 * 1024 * 1024;
const DOWNLOAD_TIMEOUT_MS = 60_000;

/** The downloaded bytes are not the pinned package: the file is already deleted. */
export class ChecksumMismatchError extends Error {
  override name = "ChecksumMismatchError";
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`SHA-256 mismatch for ${file}: expected ${expected}, got ${actual}; the file was deleted and nothing was installed`);
  }
}

/** The .deb could not be fetched. `network`: no HTTP answer at all (DNS, connection, TLS, timeout). */
export class DownloadError extends Error {
  override name = "DownloadError";
  constructor(
    message: string,
    readonly network: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function cacheRoot(override?: string): string {
  return override ?? (process.env.PGCHAOS_CACHE || "/var/cache/pgchaos");
}

export function stackDir(stack: PatroniVersion, root = cacheRoot()): string {
  return join(root, "stacks", `patroni-${stack.version}`);
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(file), h);
  return h.digest("hex");
}

/** Throws ChecksumMismatchError and deletes `file` unless its SHA-256 is `expected`. */
export async function verifySha256(file: string, expected: string): Promise<void> {
  const actual = await sha256File(file);
  if (actual !== expected.toLowerCase()) {
    await rm(file, { force: true });
    throw new ChecksumMismatchError(file, expected, actual);
  }
}

/**
 * Makes `version` ("4.0.7", "patroni@4.0.7", "patroni" or a stack) runnable and returns its launcher. Idempotent;
 * concurrent calls and interrupted ones never leave a partial cache directory in place.
 */
export async function ensurePatroni(version: string | PatroniVersion, opts: EnsureOptions = {}): Promise<EnsuredPatroni> {
  const stack = typeof version === "string" ? stackOf(version) : version;
  return stack.install === "system" ? systemPatroni(stack, opts) : cachedPatroni(stack, opts);
}

// ---------------------------------------------------------------------------------------------------------------
// Debian 12's package

async function systemPatroni(stack: PatroniVersion, opts: EnsureOptions): Promise<EnsuredPatroni> {
  const log = opts.log ?? (() => undefined);
  if (!(await isExecutable(SYSTEM_PATRONI))) {
    throw new EnvironmentError(
      `${stack.name} is Debian 12's patroni package and ${SYSTEM_PATRONI} is missing: run \`npm run setup\` as root (or apt-get install --no-install-recommends patroni)`,
    );
  }
  const pkgVersion = await run("dpkg-query", ["-W", "-f=${Version}", "patroni"], opts).then(
    (r) => r.stdout.trim() || undefined,
    () => undefined,
  );
  const printed = await versionCheck(SYSTEM_PATRONI, stack, opts);
  let sha256: string | undefined;
  let from: string;
  const debVersion = pkgVersion ?? stack.debian.version;
  const cached = join(APT_ARCHIVES, `patroni_${debVersion.replace(":", "%3a")}_all.deb`);
  if (existsSync(cached)) {
    sha256 = await sha256File(cached);
    from = cached;
  } else {
    // What apt checked the download against when it installed the package (the archive's signed index).
    const show = await run("apt-cache", ["show", `patroni=${debVersion}`], opts).then(
      (r) => r.stdout,
      () => "",
    );
    sha256 = /^SHA256: ([0-9a-f]{64})$/m.exec(show)?.[1];
    from = "apt's package index";
  }
  if (sha256 && debVersion === stack.debian.version && sha256 !== stack.debian.sha256) {
    log(`warning: ${from} gives SHA-256 ${sha256} for patroni ${debVersion}, not the pinned ${stack.debian.sha256}`);
  }
  const source =
    `Debian package patroni ${pkgVersion ?? "(version not recorded by dpkg)"} installed by apt at ${SYSTEM_PATRONI}` +
    (sha256 ? `; .deb SHA-256 from ${from}` : "; .deb SHA-256 unknown (not in apt's cache or index)");
  log(`${stack.name}: ${SYSTEM_PATRONI} (patroni ${pkgVersion ?? "?"}, prints ${printed})`);
  return { bin: SYSTEM_PATRONI, patronictl: SYSTEM_PATRONICTL, version: printed, sha256, source };
}

// ---------------------------------------------------------------------------------------------------------------
// Another suite's package, in the cache

interface StackManifest {
  name: string;
  version: string;
  debianVersion: string;
  file: string;
  sha256: string;
  url: string;
  installedAt: string;
}

async function cachedPatroni(stack: PatroniVersion, opts: EnsureOptions): Promise<EnsuredPatroni> {
  const log = opts.log ?? (() => undefined);
  const root = cacheRoot(opts.cacheRoot);
  const final = stackDir(stack, root);
  const stacksDir = dirname(final);
  await mkdirShared(stacksDir);
  await reachableByPostgres(join(stacksDir, "patroni")); // before downloading into a place postgres cannot use
  await removeStaleTemps(stacksDir);

  let manifest = await readManifest(final, stack);
  if (!manifest) {
    if (existsSync(final)) log(`${stack.name}: ${final} is incomplete or another package; rebuilding it`);
    const tmp = join(stacksDir, `.patroni-${stack.version}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    try {
      await mkdirShared(tmp);
      const url = await download(stack, join(tmp, stack.debian.file), opts);
      throwIfAborted(opts.signal);
      await build(stack, tmp, final, url, opts);
      await publish(tmp, final, stack);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    manifest = await readManifest(final, stack);
    if (!manifest) throw new Error(`${final} is still incomplete after installing ${stack.name}`);
    log(`${stack.name}: installed in ${final}`);
  }
  const bin = join(final, "bin", "patroni");
  await reachableByPostgres(bin);
  const printed = await versionCheck(bin, stack, opts);
  return {
    bin,
    patronictl: join(final, "bin", "patronictl"),
    version: printed,
    sha256: manifest.sha256,
    source: `Debian ${stack.suites.join("/")} package ${stack.debian.file} (${manifest.url}, SHA-256 pinned and checked), extracted in ${final}, run on Debian 12's ${PYTHON}`,
  };
}

/** The stack's manifest when `dir` holds the whole of this exact package, else undefined. */
async function readManifest(dir: string, stack: PatroniVersion): Promise<StackManifest | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, "stack.json"), "utf8")) as StackManifest;
    if (m.sha256 !== stack.debian.sha256 || m.version !== stack.version) return undefined;
    for (const f of ["bin/patroni", "bin/patronictl", `${sitePackages("")}/patroni/__main__.py`]) {
      if (!existsSync(join(dir, f))) return undefined;
    }
    return m;
  } catch {
    return undefined;
  }
}

/** Where the container platforms' member image holds a stack other than Debian 12's Patroni (platform/image.ts). */
export function imageStackDir(version: string): string {
  return `/opt/pgchaos/stacks/patroni-${version}`;
}

export function sitePackages(root: string): string {
  return join(root, "root", "usr", "lib", "python3", "dist-packages");
}

async function download(stack: PatroniVersion, dest: string, opts: EnsureOptions): Promise<string> {
  const log = opts.log ?? (() => undefined);
  const doFetch = opts.fetch ?? fetch;
  let lastNetworkError: unknown;
  for (const base of ARCHIVE_URLS) {
    const url = new URL(stack.debian.pool, base).href;
    log(`${stack.name}: downloading ${url}`);
    const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS)]) : AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
    let res: Response;
    try {
      res = await doFetch(url, { signal, redirect: "manual" });
    } catch (e) {
      throwIfAborted(opts.signal);
      lastNetworkError = e;
      log(`${stack.name}: ${url}: ${networkReason(e)}`);
      continue;
    }
    if (res.status >= 300 && res.status < 400) {
      // Following it could lead to another host; the archive serves the pool directly.
      throw new DownloadError(`${url}: HTTP ${res.status} redirect to ${res.headers.get("location") ?? "?"}, not followed (only ${DEBIAN_ARCHIVE_HOST} is contacted)`, false);
    }
    if (!res.ok || !res.body) {
      throw new DownloadError(
        `${url}: HTTP ${res.status}` + (res.status === 404 ? ` (the archive keeps a pool file only while a suite carries that version: pin the suite's current package in versions.ts)` : ""),
        false,
      );
    }
    try {
      await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), sizeLimit(MAX_DOWNLOAD_BYTES), createWriteStream(dest, { mode: 0o644 }), { signal });
    } catch (e) {
      await rm(dest, { force: true });
      throwIfAborted(opts.signal);
      throw new DownloadError(`${url}: download interrupted: ${networkReason(e)}`, true, { cause: e });
    }
    await verifySha256(dest, stack.debian.sha256);
    log(`${stack.name}: ${stack.debian.file} SHA-256 ${stack.debian.sha256} verified`);
    return url;
  }
  throw new DownloadError(`could not reach ${DEBIAN_ARCHIVE_HOST} for ${stack.debian.file}: ${networkReason(lastNetworkError)}`, true, { cause: lastNetworkError });
}

function sizeLimit(max: number): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      cb(n > max ? new Error(`response larger than ${max} bytes`) : null, chunk);
    },
  });
}

function networkReason(e: unknown): string {
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : undefined;
  const code = cause && "code" in cause ? String((cause as { code: unknown }).code) : undefined;
  return [errorMessage(e), cause ? errorMessage(cause) : undefined, code].filter((x, i, a) => x && a.indexOf(x) === i).join(": ");
}

/** Extracts the verified .deb in `tmp` and writes the launchers and manifest; paths inside name `final`. */
async function build(stack: PatroniVersion, tmp: string, final: string, url: string, opts: EnsureOptions): Promise<void> {
  const deb = join(tmp, stack.debian.file);
  const fields = (await run("dpkg-deb", ["-f", deb, "Package", "Version"], opts)).stdout;
  if (!fields.includes(`Package: ${stack.debian.package}`) || !fields.includes(`Version: ${stack.debian.version}`)) {
    throw new Error(`${stack.debian.file} is not ${stack.debian.package} ${stack.debian.version}: ${fields.trim()}`);
  }
  await run("dpkg-deb", ["-x", deb, join(tmp, "root")], opts);
  const entryPoints = await readFile(join(sitePackages(tmp), `patroni-${stack.version}.egg-info`, "entry_points.txt"), "utf8").catch(() => "");
  for (const ep of ["patroni = patroni.__main__:main", "patronictl = patroni.ctl:ctl"]) {
    if (!entryPoints.includes(ep)) throw new Error(`${stack.debian.file}: entry_points.txt does not declare "${ep}"`);
  }
  await mkdirShared(join(tmp, "bin"));
  const site = sitePackages(final);
  await writeFile(join(tmp, "bin", "patroni"), launcher(stack, site, "patroni.__main__", "main"), { mode: 0o755 });
  await writeFile(join(tmp, "bin", "patronictl"), launcher(stack, site, "patroni.ctl", "ctl"), { mode: 0o755 });
  const manifest: StackManifest = {
    name: stack.name,
    version: stack.version,
    debianVersion: stack.debian.version,
    file: stack.debian.file,
    sha256: stack.debian.sha256,
    url,
    installedAt: new Date().toISOString(),
  };
  await writeFile(join(tmp, "stack.json"), JSON.stringify(manifest, null, 2) + "\n", { mode: 0o644 });
  await shareTree(tmp);
}

/**
 * A python3 script, like Debian's own /usr/bin/patroni: the process's command line is then
 * `/usr/bin/python3 -s <launcher> <args>`, which holds `<launcher> <args>` as the harness looks for it.
 */
export function launcher(stack: PatroniVersion, site: string, module: string, func: string): string {
  const lit = (s: string) => JSON.stringify(s);
  return `#!${PYTHON} -s
# ${stack.name} for pgchaos, written by harness/stack/patroni/install.ts: Debian ${stack.suites.join("/")}'s
# ${stack.debian.file} (SHA-256 ${stack.debian.sha256}),
# extracted under ${site}, run by Debian 12's python3 with its modules.
import os
import sys

SITE = ${lit(site)}
sys.path.insert(0, SITE)
# Python processes Patroni starts (multiprocessing "spawn") find the same package.
os.environ["PYTHONPATH"] = SITE + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")

if __name__ == "__main__":
    from ${module} import ${func}
    sys.exit(${func}())
`;
}

/** Renames the built `tmp` to `final`; a concurrent call's finished copy wins, an incomplete one is replaced. */
async function publish(tmp: string, final: string, stack: PatroniVersion): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await rename(tmp, final);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
    }
    if (await readManifest(final, stack)) return; // another call finished first
    // An incomplete or outdated copy: moved aside (removeStaleTemps deletes it), then this one goes in.
    const aside = join(dirname(final), `.patroni-${stack.version}.${process.pid}.${randomBytes(4).toString("hex")}.old.tmp`);
    await rename(final, aside).catch(() => undefined);
    await rm(aside, { recursive: true, force: true });
  }
  throw new Error(`could not put ${final} in place`);
}

/** Temporary directories of calls that died (their process is gone). */
async function removeStaleTemps(stacksDir: string): Promise<void> {
  for (const name of await readdir(stacksDir).catch(() => [] as string[])) {
    const m = /^\.patroni-[^/]+?\.(\d+)\.[0-9a-f]+(\.old)?\.tmp$/.exec(name);
    if (!m || processExists(Number(m[1]))) continue; // a call in progress (this process's own included)
    await rm(join(stacksDir, name), { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Checks

/** Runs `<bin> --version` (as postgres when root: that is who runs it) and returns the version it prints. */
async function versionCheck(bin: string, stack: PatroniVersion, opts: EnsureOptions): Promise<string> {
  const asPostgres = process.getuid?.() === 0 && (await run("id", ["-u", "postgres"], opts).then(() => true, () => false));
  const [cmd, args] = asPostgres ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", bin, "--version"]] : [bin, ["--version"]];
  let out: string;
  try {
    const r = await run(cmd, args as string[], { ...opts, cwd: "/", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/", LANG: "C.UTF-8" } });
    out = (r.stdout + r.stderr).trim();
  } catch (e) {
    const missing = /requires psycopg|No module named/i.test(errorMessage(e));
    throw new EnvironmentError(
      `${bin} --version failed${asPostgres ? " (as postgres)" : ""}: ${errorMessage(e).trim()}` +
        (missing ? `\n  it runs on Debian 12's python3 modules: install them with \`npm run setup\` (apt-get install --no-install-recommends patroni)` : ""),
    );
  }
  const printed = /^patroni (\S+)$/m.exec(out)?.[1];
  if (printed !== stack.version) throw new EnvironmentError(`${bin} --version printed "${out}", not patroni ${stack.version}`);
  return printed;
}

/** Every directory above the launcher must let others through: the harness runs Patroni as postgres. */
async function reachableByPostgres(bin: string): Promise<void> {
  for (let d = dirname(bin); ; d = dirname(d)) {
    const mode = (await stat(d)).mode;
    if ((mode & 0o001) === 0) {
      throw new EnvironmentError(`${bin} is out of the postgres user's reach: ${d} is mode ${(mode & 0o777).toString(8)}; set PGCHAOS_CACHE to a directory others can traverse`);
    }
    if (d === dirname(d)) return;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    async () => (await stat(file)).isFile(),
    () => false,
  );
}

/** mkdir -p with 0755 on what it creates (whatever the umask). */
async function mkdirShared(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o755 });
  if (first === undefined) return;
  for (let d = dir; d.length >= first.length; d = dirname(d)) await chmod(d, 0o755);
}

/** Directories 0755, files readable by all (executables stay executable), under `root`. */
async function shareTree(root: string): Promise<void> {
  const s = await lstat(root);
  if (s.isDirectory()) {
    await chmod(root, 0o755);
    for (const e of await readdir(root)) await shareTree(join(root, e));
  } else if (s.isFile()) {
    await chmod(root, s.mode & 0o111 ? 0o755 : 0o644);
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
}

function run(cmd: string, args: string[], opts: { signal?: AbortSignal; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { signal: opts.signal, cwd: opts.cwd, env: opts.env, timeout: 30_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${(stderr || err.message).trim()}`, { cause: err }));
      else resolve({ stdout, stderr });
    });
  });
}

/** For the unit tests: the bytes a file would need to pass verifySha256. */
export function sha256Of(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}
