/**
 * kind on machines that reach package registries but no container registry: a node image of ours
 * (scripts/kind-node/, `npm run kind:image`), and what kind then needs to run it here.
 *
 * - The image: `pgchaos/kind-node:<kubernetes>-<hash of scripts/kind-node>`, built from the Go module proxy and
 *   Debian's archive. The kind platform uses it when PGCHAOS_KIND_NODE_IMAGE names it, or when the engine has the
 *   one this checkout builds; otherwise kind's own default (kindest/node, pulled by kind) as before.
 * - Its network: an internal Docker network of ours (KIND_EXPERIMENTAL_DOCKER_NETWORK): nothing of the cluster
 *   reaches beyond this machine. This machine reaches the control plane's address on the network's bridge.
 * - Where `docker run --privileged` cannot work (the capability bounding set of this machine lacks a capability,
 *   as CAP_SYS_RESOURCE here), kind calls docker through scripts/kind-node/shims/docker, which gives the node every
 *   other capability instead; the node image mounts its cgroups read-write itself.
 * - kind itself: the one `npm run kind:image` built, when none is on PATH.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { execa } from "execa";
import { cacheRoot } from "../../stack/patroni/install.ts";
import { imageExists } from "../image.ts";
import { onPath } from "./preflight.ts";

export const KIND_NODE_DIR = resolve(import.meta.dirname, "../../../scripts/kind-node");
export const KIND_NODE_KUBERNETES = "v1.34.4";
export const KIND_NODE_REPO = "pgchaos/kind-node";
export const KIND_NETWORK = "pgchaos-kind";

/** Every file of scripts/kind-node, hashed: a change to any of them is a new image. */
export function kindNodeTag(dir = KIND_NODE_DIR): string {
  const h = createHash("sha256");
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      // An editor's backup or swap file is not an input.
      if (name.startsWith(".") || name.endsWith("~") || name.endsWith(".orig")) continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(`${p.slice(dir.length)}\0`).update(readFileSync(p)).update("\0");
    }
  };
  walk(dir);
  return `${KIND_NODE_REPO}:${KIND_NODE_KUBERNETES}-${h.digest("hex").slice(0, 12)}`;
}

/** Where `npm run kind:image` keeps kind's binary and, per tag, the binaries and component images it built (outside the checkout). */
export function kindNodeCache(root = cacheRoot()): string {
  return join(root, "kind-node");
}

/** The build folder of one tag: a change to scripts/kind-node (a version, podnet.sh) builds everything again. */
export function kindNodeBuildDir(tag: string, root = cacheRoot()): string {
  return join(kindNodeCache(root), tag.slice(tag.lastIndexOf("-") + 1));
}

/** Linux capability names by number (capability(7)), as docker's --cap-drop takes them. */
const CAPABILITIES = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
  "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
  "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
  "PERFMON", "BPF", "CHECKPOINT_RESTORE",
];

/**
 * The capabilities the kernel has that this machine's bounding set lacks (CapBnd of /proc/self/status against
 * cap_last_cap): `docker run --privileged` asks for all of them and fails ("unable to apply caps: operation not
 * permitted") when one is missing. Empty where --privileged works.
 */
export function missingCapabilities(status = readFileSync("/proc/self/status", "utf8"), lastCap = Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8"))): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1];
  if (!hex || !Number.isInteger(lastCap)) return [];
  const have = BigInt(`0x${hex}`);
  const out: string[] = [];
  for (let i = 0; i <= lastCap; i++) if (((have >> BigInt(i)) & 1n) === 0n) out.push(CAPABILITIES[i] ?? `CAP_${i}`);
  return out;
}

export interface KindNodeSetup {
  /** The node image to pass to `kind create cluster --image`, or undefined for kind's default. */
  image?: string;
  /** Environment for every kind command: PATH with the shim and our kind, the network. */
  env: Record<string, string>;
  /** The internal network kind must find in place (created by ensureKindNetwork), when ours is used. */
  network?: string;
}

/**
 * What a kind run here uses: decided once per run, from the environment and the engine. With our image the nodes join
 * our internal network, which publishes no port, and kind learns the API server's address from the docker shim; the
 * shim rewrites --privileged only where it cannot work (PGCHAOS_KIND_CAP_DROP names what the machine lacks).
 */
export async function kindNodeSetup(host: string, env: NodeJS.ProcessEnv = process.env): Promise<KindNodeSetup> {
  const named = env.PGCHAOS_KIND_NODE_IMAGE || undefined;
  const ours = kindNodeTag();
  const image = named ?? ((await imageExists(host, ours)) ? ours : undefined);
  const network = image?.startsWith(`${KIND_NODE_REPO}:`) ? env.KIND_EXPERIMENTAL_DOCKER_NETWORK || KIND_NETWORK : undefined;
  const missing = missingCapabilities();
  const path = [
    ...(network || missing.length > 0 ? [join(KIND_NODE_DIR, "shims")] : []),
    ...(onPath("kind", env.PATH) ? [] : [join(kindNodeCache(), "bin")]),
    env.PATH ?? "",
  ].join(delimiter);
  const out: Record<string, string> = { PATH: path, DOCKER_HOST: host, PGCHAOS_KIND_CAP_DROP: missing.join(",") };
  if (network) out.KIND_EXPERIMENTAL_DOCKER_NETWORK = network;
  return { image, env: out, network };
}

/** The internal network the nodes of our image join; created when missing, on a /24 no other network uses. */
export async function ensureKindNetwork(host: string, name: string): Promise<void> {
  const has = await execa("docker", ["-H", host, "network", "inspect", name], { reject: false });
  if (has.exitCode === 0) return;
  const used = (await execa("docker", ["-H", host, "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", ...(await networks(host))], { reject: false })).stdout;
  for (let i = 0; i < 256; i++) {
    const subnet = `10.251.${i}.0/24`;
    if (used.includes(subnet)) continue;
    const r = await execa("docker", ["-H", host, "network", "create", "--internal", "--subnet", subnet, "--label", "pgchaos.kind=1", name], { reject: false });
    if (r.exitCode === 0) return;
    if (!/overlap|in use/i.test(r.stderr)) throw new Error(`creating the kind network ${name}: ${r.stderr.trim()}`);
  }
  throw new Error(`no free 10.251.x.0/24 for the kind network ${name}`);
}

async function networks(host: string): Promise<string[]> {
  return (await execa("docker", ["-H", host, "network", "ls", "-q"], { reject: false })).stdout.split("\n").filter(Boolean);
}

/** Removes the network once no container is on it (kind never removes its network). */
export async function removeKindNetwork(host: string, name: string): Promise<void> {
  const r = await execa("docker", ["-H", host, "network", "inspect", "--format", "{{len .Containers}} {{index .Labels \"pgchaos.kind\"}}", name], { reject: false });
  if (r.exitCode !== 0) return;
  const [count, ours] = r.stdout.trim().split(" ");
  if (count === "0" && ours === "1") await execa("docker", ["-H", host, "network", "rm", name], { reject: false });
}
