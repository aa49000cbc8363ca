import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { PatroniHaStack } from "../../stack/patroni/stack.ts";
import { execa } from "execa";
import { EnvironmentError } from "../../util/errors.ts";

const FIXTURES = resolve(import.meta.dirname, "../../../fixtures");
export const DOCKER = existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";
const MIRROR = "http://deb.debian.org/debian";
const SYSTEM_PATRONI = "/usr/bin/patroni";

/**
 * What goes into a member's image, pinned to what this machine's local platform runs (the same Debian 12 packages),
 * so local and docker runs compare like for like. The tag is a hash of all of it: a change builds a new image.
 */
export function imageRecipe(): { packages: string[]; dockerfile: string; scripts: Record<string, string>; tag: string; baseTag: string } {
  const pinned = ["postgresql-15", "patroni", "etcd-server", "etcd-client"].map((p) => `${p}=${installedVersion(p)}`);
  const packages = [...pinned, "python3-psycopg2", "iproute2", "iptables", "procps", "ca-certificates"];
  const dockerfile = readFileSync(join(FIXTURES, "docker", "Dockerfile"), "utf8");
  const scripts = {
    "pod-init.sh": readFileSync(join(FIXTURES, "kube", "pod-init.sh"), "utf8"),
    "pgchaos-ctl.sh": readFileSync(join(FIXTURES, "kube", "pgchaos-ctl.sh"), "utf8"),
  };
  const baseTag = "pgchaos/debian:bookworm-minbase";
  const hash = createHash("sha256").update(JSON.stringify({ baseTag, packages, dockerfile, scripts })).digest("hex").slice(0, 12);
  return { packages, dockerfile, scripts, tag: `pgchaos/member:bookworm-${hash}`, baseTag };
}

function installedVersion(pkg: string): string {
  try {
    return execFileSync("dpkg-query", ["-W", "-f=${Version}", pkg], { encoding: "utf8" }).trim();
  } catch {
    throw new EnvironmentError(`${pkg} is not installed here, and the docker image pins the versions the local platform runs: \`npm run setup\` first`);
  }
}

async function imageExists(host: string, tag: string): Promise<boolean> {
  const r = await execa(DOCKER, ["-H", host, "image", "inspect", tag], { reject: false });
  return r.exitCode === 0;
}

/**
 * The member image, built here from nothing when missing: a Debian 12 base made by debootstrap and imported (no
 * registry is needed), then the recipe's packages from Debian's archive. Both are cached by tag.
 */
export async function ensureImage(host: string, say: (line: string) => void, signal?: AbortSignal, stack?: PatroniHaStack): Promise<string> {
  const member = await ensureMemberImage(host, say, signal);
  return stack && stack.installed.bin !== SYSTEM_PATRONI ? ensureStackImage(host, member, stack, say, signal) : member;
}

/**
 * The member image with another Patroni on top: the stack folder that install.ts made on this machine (Debian
 * trixie's or forky's package, checked against its pinned SHA-256 and extracted; its launcher runs it on Debian 12's
 * python3, as on the local platform) copied to the same path, and its launchers first on PATH. Tagged by the member
 * image and the package's checksum.
 */
async function ensureStackImage(host: string, member: string, stack: PatroniHaStack, say: (line: string) => void, signal?: AbortSignal): Promise<string> {
  const dir = dirname(dirname(stack.installed.bin));
  const sha = stack.installed.sha256 ?? "unknown";
  const tag = `${member.replace("pgchaos/member:", "pgchaos/member-")}:${stack.info.name.replace("@", "-")}-${createHash("sha256").update(member + sha).digest("hex").slice(0, 12)}`;
  if (await imageExists(host, tag)) return tag;
  const ctx = mkdtempSync(join(tmpdir(), "pgchaos-stack-image-"));
  try {
    cpSync(join(dir, "bin"), join(ctx, "stack", "bin"), { recursive: true });
    cpSync(join(dir, "root"), join(ctx, "stack", "root"), { recursive: true });
    writeFileSync(
      join(ctx, "Dockerfile"),
      `FROM ${member}
COPY stack ${dir}
RUN ln -sf ${dir}/bin/patroni /usr/local/bin/patroni && ln -sf ${dir}/bin/patronictl /usr/local/bin/patronictl && test "$(patroni --version)" = "patroni ${stack.info.version}"
`,
    );
    say(`building ${tag} (${stack.info.name} on the member image)`);
    await execa(DOCKER, ["-H", host, "build", "--network", "none", "-t", tag, ctx], { cancelSignal: signal, all: true }).catch((e: { all?: string }) => {
      throw new EnvironmentError(`docker build of ${tag} failed:\n${String(e.all ?? e).split("\n").slice(-15).join("\n")}`);
    });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return tag;
}

async function ensureMemberImage(host: string, say: (line: string) => void, signal?: AbortSignal): Promise<string> {
  const r = imageRecipe();
  if (await imageExists(host, r.tag)) return r.tag;
  if (!(await imageExists(host, r.baseTag))) {
    if (!existsSync("/usr/sbin/debootstrap")) throw new EnvironmentError("building the docker platform's base image needs debootstrap: `npm run setup` installs it");
    const root = mkdtempSync(join(tmpdir(), "pgchaos-rootfs-"));
    try {
      say(`building ${r.baseTag} with debootstrap from ${MIRROR} (about 30 s, once)`);
      await execa("debootstrap", ["--variant=minbase", "bookworm", root, MIRROR], { cancelSignal: signal });
      // Imported under a name of its own and tagged only when the whole import succeeded: a partial root file system
      // must never carry the tag that says "built".
      const partial = `${r.baseTag}-partial`;
      await execa("bash", ["-o", "pipefail", "-c", `tar -C '${root}' -c . | '${DOCKER}' -H '${host}' import - '${partial}'`], { cancelSignal: signal });
      await execa(DOCKER, ["-H", host, "tag", partial, r.baseTag]);
      await execa(DOCKER, ["-H", host, "rmi", partial], { reject: false });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  const ctx = mkdtempSync(join(tmpdir(), "pgchaos-image-"));
  try {
    writeFileSync(join(ctx, "Dockerfile"), r.dockerfile);
    for (const [name, text] of Object.entries(r.scripts)) writeFileSync(join(ctx, name), text);
    say(`building ${r.tag} from Debian's archive (about 40 s, once)`);
    await execa(DOCKER, ["-H", host, "build", "--network", "host", "--build-arg", `BASE=${r.baseTag}`, "--build-arg", `PACKAGES=${r.packages.join(" ")}`, "-t", r.tag, ctx], { cancelSignal: signal, all: true }).catch((e: { all?: string }) => {
      throw new EnvironmentError(`docker build of ${r.tag} failed:\n${String(e.all ?? e).split("\n").slice(-15).join("\n")}`);
    });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return r.tag;
}

