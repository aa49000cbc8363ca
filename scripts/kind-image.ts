/**
 * `npm run kind:image -- [--rebuild]`: builds the kind node image of this checkout (scripts/kind-node/, tag
 * pgchaos/kind-node:<kubernetes>-<hash>) from package registries only, for machines that reach no container
 * registry; prints its reference. The kind platform then uses it by itself (harness/platform/kube/kind-node.ts).
 * A user with internet does not need it: kind pulls kindest/node.
 *
 * Needs root on Linux, Go 1.24 or later and gcc (Kubernetes and its companions are built from the Go module proxy),
 * and Docker (pgchaos starts a daemon of its own where none runs). Binaries and component images are cached in
 * $PGCHAOS_CACHE/kind-node (default /var/cache/pgchaos), Go's own caches where Go keeps them: about 12 minutes cold on
 * 2 cores, 2 with warm caches. Exit 0 built or present, 1 failed, 2 on a machine that cannot build, 130 on Ctrl-C.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { mkdirSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { execa } from "execa";
import { ensureDaemon } from "../harness/platform/docker/daemon.ts";
import { DOCKER, ensureImage, imageExists, recipeFor } from "../harness/platform/image.ts";
import { KIND_NODE_DIR, kindNodeBuildDir, kindNodeCache, kindNodeTag, missingCapabilities } from "../harness/platform/kube/kind-node.ts";
import { onPath } from "../harness/platform/kube/preflight.ts";
import { EnvironmentError, errorMessage } from "../harness/util/errors.ts";
import { abortOnSignals } from "../harness/util/signals.ts";

const USAGE = "usage: npm run kind:image -- [--rebuild]";

/** Why this Go cannot build Kubernetes v1.34 (go.mod asks for 1.24), or undefined when it can. */
function goProblem(version = goVersion()): string | undefined {
  const need = "Go 1.24 or later on PATH (https://go.dev/dl/)";
  if (version === undefined) return need;
  const m = /^go(\d+)\.(\d+)/.exec(version);
  if (!m || Number(m[1]) < 1 || (Number(m[1]) === 1 && Number(m[2]) < 24)) return `${need}; this is ${version}`;
  return undefined;
}

function goVersion(): string | undefined {
  try {
    return execFileSync("go", ["env", "GOVERSION"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

function staticLibc(): boolean {
  try {
    return execFileSync("gcc", ["-print-file-name=libc.a"], { encoding: "utf8" }).trim().startsWith("/");
  } catch {
    return false;
  }
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  try {
    if (pid) process.kill(-pid, sig);
  } catch {
    // Gone already.
  }
}

async function main(argv: string[]): Promise<number> {
  let values: { rebuild?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { rebuild: { type: "boolean" }, help: { type: "boolean", short: "h" } }, allowPositionals: false }));
  } catch (e) {
    console.error(`kind:image: ${errorMessage(e)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const missing = [
    process.platform !== "linux" || process.getuid?.() !== 0 ? "root on Linux (the node image is assembled in a container with every capability but one)" : undefined,
    goProblem(),
    onPath("gcc") && staticLibc() ? undefined : "gcc with a static libc (`apt-get install gcc libc6-dev`), for Kubernetes' pause",
    onPath("docker") ? undefined : "docker (`npm run setup` installs docker.io)",
  ].filter((x): x is string => x !== undefined);
  if (missing.length > 0) {
    console.error(`kind:image: this machine cannot build the kind node image; it needs:\n  - ${missing.join("\n  - ")}`);
    return 2;
  }
  const signal = abortOnSignals();
  const tag = kindNodeTag();
  let daemon: Awaited<ReturnType<typeof ensureDaemon>>;
  try {
    daemon = await ensureDaemon(signal);
  } catch (e) {
    console.error(`kind:image: ${errorMessage(e)}`);
    return e instanceof EnvironmentError ? 2 : 1;
  }
  const started = performance.now();
  try {
    if ((await imageExists(daemon.host, tag)) && !values.rebuild) {
      console.log(tag);
      return 0;
    }
    // The member image's base (Debian 12, debootstrapped where it can be) is the node image's base too.
    await ensureImage(daemon.host, (l) => console.error(l), signal);
    const base = (await recipeFor(daemon.host)).base.ref;
    const out = kindNodeBuildDir(tag);
    if (values.rebuild) rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    console.error(`building ${tag} from the Go module proxy and Debian's archive (cache ${out})`);
    // In a process group of its own: Ctrl-C stops the Go builds and docker commands under it too, and what a step
    // left (its build container) is removed.
    const child = execa("bash", [join(KIND_NODE_DIR, "build.sh")], {
      env: { OUT: out, KINDBIN: join(kindNodeCache(), "bin"), TAG: tag, BASE: base, CAP_DROP: missingCapabilities().join(","), DOCKER_HOST: daemon.host },
      stdout: "inherit",
      stderr: "inherit",
      detached: true,
      reject: false,
    });
    const stop = () => {
      for (const [sig, ms] of [["SIGTERM", 0], ["SIGKILL", 5000]] as const) setTimeout(() => void killGroup(child.pid, sig), ms).unref();
    };
    signal.addEventListener("abort", stop, { once: true });
    if (signal.aborted) stop();
    const r = await child;
    signal.removeEventListener("abort", stop);
    if (r.exitCode !== 0 || signal.aborted) {
      await execa(DOCKER, ["-H", daemon.host, "rm", "-f", "pgchaos-kind-build"], { reject: false });
      await execa(DOCKER, ["-H", daemon.host, "rmi", `${tag}-base`], { reject: false });
      throw new Error(signal.aborted ? "interrupted" : `scripts/kind-node/build.sh failed (exit ${r.exitCode ?? r.signal})`);
    }
    console.error(`built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    console.log(tag);
    return 0;
  } catch (e) {
    console.error(`kind:image: ${errorMessage(e)}`);
    return signal.aborted ? 130 : 1;
  } finally {
    await daemon.stop();
  }
}

process.exit(await main(process.argv.slice(2)));
