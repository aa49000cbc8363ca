/**
 * What the Kubernetes platforms need on the machine, checked before anything is created: the `docker` client
 * and a Docker engine it reaches, the `kind` or `minikube` binary, and (for the node probes, which run on the
 * host inside each pod's network namespace, as on the local platform) Linux, root and `nsenter`, with an engine
 * whose containers are processes of this host (not Docker Desktop's VM); for kind, inotify limits that a cluster
 * of four nodes does not exhaust.
 */
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { delimiter, join } from "node:path";
import { execa } from "execa";
import { EnvironmentError } from "../../util/errors.ts";
import { DOCKERD, runningDaemonSocket } from "../docker/daemon.ts";
import { kindNodeCache } from "./kind-node.ts";

export type KubePlatformName = "kind" | "minikube";

export interface MachineFacts {
  os: NodeJS.Platform;
  uid: number | undefined;
  /** Binaries found on PATH. */
  found: Record<string, boolean>;
  /** Whether `docker info` answered, and what it said. */
  docker: ({ ok: true } & DockerInfo) | { ok: false; error: string };
  /** This host's kernel release (`uname -r`). */
  kernelRelease?: string;
  /** fs.inotify limits of this host, where they could be read. */
  inotify?: { maxUserWatches?: number; maxUserInstances?: number };
}

/** What of `docker info` the preflight reads. */
export interface DockerInfo {
  /** "Docker Desktop", "Ubuntu 24.04 LTS", ... */
  operatingSystem?: string;
  /** The kernel the engine's containers run on. */
  kernelVersion?: string;
}

/** `docker info --format '{{json .}}'`: what the preflight reads, or the engine's error. */
export function parseDockerInfo(json: string): { ok: true } & DockerInfo | { ok: false; error: string } {
  let v: { OperatingSystem?: unknown; KernelVersion?: unknown; ServerErrors?: unknown };
  try {
    v = JSON.parse(json) as typeof v;
  } catch {
    return { ok: false, error: `docker info printed no JSON: ${json.slice(0, 200)}` };
  }
  if (Array.isArray(v.ServerErrors) && v.ServerErrors.length > 0) return { ok: false, error: v.ServerErrors.map(String).join("; ") };
  const str = (x: unknown) => (typeof x === "string" && x !== "" ? x : undefined);
  return { ok: true, operatingSystem: str(v.OperatingSystem), kernelVersion: str(v.KernelVersion) };
}

/** What kind documents for clusters of several nodes (kind.sigs.k8s.io, known issues: "too many open files"). */
export const KIND_INOTIFY = { maxUserWatches: 524288, maxUserInstances: 512 } as const;

/**
 * How to run a Kubernetes platform as root and keep what the user's shell has: sudo's secure_path drops PATH
 * (nvm's node, kind in ~/go/bin), and -E keeps the PGCHAOS_* options the platforms read from the environment.
 */
export function sudoHint(platform: KubePlatformName): string {
  return `sudo -E env "PATH=$PATH" npm run scenario -- <scenario> --platform ${platform}`;
}

const INSTALL: Record<string, string> = {
  docker: "install Docker Engine (on Debian or Ubuntu: `apt-get install docker.io`, then `systemctl start docker`)",
  kind: "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation, or `go install sigs.k8s.io/kind@<version>`)",
  minikube: "install minikube (https://minikube.sigs.k8s.io/docs/start/)",
  nsenter: "install util-linux (`apt-get install util-linux`)",
};

/** Every problem that keeps `platform` from running here, each saying what to do; empty when it can run. */
export function kubeProblems(platform: KubePlatformName, f: MachineFacts): string[] {
  const problems: string[] = [];
  for (const bin of ["docker", platform, "nsenter"]) {
    if (!f.found[bin]) problems.push(`\`${bin}\` is not on PATH: ${INSTALL[bin]}`);
  }
  if (f.found.docker && !f.docker.ok) {
    problems.push(
      `the Docker engine does not answer (\`docker info\`: ${f.docker.error.split("\n")[0]}): start it (\`systemctl start docker\`), or give this user access to its socket`,
    );
  }
  if (f.os !== "linux") {
    problems.push(`the ${platform} platform runs its node probes inside pod network namespaces from the host, which needs Linux with Docker Engine; this is ${f.os}`);
  } else if (f.uid !== 0) {
    problems.push(
      `the ${platform} platform enters pod network namespaces from the host (node probes), which needs root: run as root, keeping your PATH and environment (\`${sudoHint(platform)}\`)` +
        (platform === "minikube"
          ? `; minikube's docker driver refuses root (DRV_AS_ROOT), so the platform starts it with \`--force\`, which lets it run as root`
          : ""),
    );
  }
  if (f.docker.ok) {
    const engineOs = f.docker.operatingSystem ?? "";
    const wsl = /microsoft|wsl/i.test(f.kernelRelease ?? "");
    if (/docker desktop/i.test(engineOs)) {
      problems.push(
        `the Docker engine is Docker Desktop${wsl ? " (WSL2 integration)" : ""}, which runs containers in a VM of its own: a node container's pid is one of that VM's, so nothing on this host can enter its pods' network namespaces (nsenter). ` +
          `Install Docker Engine in this Linux ${wsl ? "distribution (WSL2) " : ""}and use it (\`docker context use default\`), or run on a Linux machine`,
      );
    } else if (f.docker.kernelVersion && f.kernelRelease && f.docker.kernelVersion !== f.kernelRelease) {
      problems.push(
        `the Docker engine runs on another kernel (${f.docker.kernelVersion}) than this host (${f.kernelRelease}): a VM or a remote DOCKER_HOST, whose containers nothing on this host can enter (nsenter); use Docker Engine on this host`,
      );
    }
  }
  if (platform === "kind" && f.inotify) {
    const { maxUserWatches: w, maxUserInstances: i } = f.inotify;
    const low = (w !== undefined && w < KIND_INOTIFY.maxUserWatches) || (i !== undefined && i < KIND_INOTIFY.maxUserInstances);
    if (low) {
      problems.push(
        `the kernel's inotify limits are too low for a kind cluster of four nodes, whose kubelets and container runtimes share them (fs.inotify.max_user_watches=${w ?? "?"}, fs.inotify.max_user_instances=${i ?? "?"}; ` +
          `kind documents ${KIND_INOTIFY.maxUserWatches} and ${KIND_INOTIFY.maxUserInstances}, below which pods fail with "too many open files"): raise them with ` +
          `\`sudo sysctl -w fs.inotify.max_user_watches=${KIND_INOTIFY.maxUserWatches} fs.inotify.max_user_instances=${KIND_INOTIFY.maxUserInstances}\`, ` +
          `and keep them across reboots with \`printf 'fs.inotify.max_user_watches = ${KIND_INOTIFY.maxUserWatches}\\nfs.inotify.max_user_instances = ${KIND_INOTIFY.maxUserInstances}\\n' | sudo tee /etc/sysctl.d/99-kind.conf\``,
      );
    }
  }
  return problems;
}

export function onPath(bin: string, path = process.env.PATH ?? ""): boolean {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function readNumber(path: string): number | undefined {
  try {
    const v = Number(readFileSync(path, "utf8").trim());
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export async function machineFacts(platform: KubePlatformName): Promise<MachineFacts> {
  const found = Object.fromEntries(["docker", platform, "nsenter"].map((b) => [b, onPath(b)]));
  // The kind that `npm run kind:image` built serves when none is on PATH (kind-node.ts).
  if (platform === "kind" && !found.kind) found.kind = existsSync(join(kindNodeCache(), "bin", "kind"));
  let docker: MachineFacts["docker"] = { ok: false, error: "docker is not installed" };
  if (found.docker) {
    // kind runs on whichever engine a run would use: DOCKER_HOST's, the system's, or one pgchaos starts (root, dockerd installed).
    const socket = process.env.DOCKER_HOST ? undefined : await runningDaemonSocket();
    if (platform === "kind" && !process.env.DOCKER_HOST && !socket && process.getuid?.() === 0 && existsSync(DOCKERD)) {
      docker = { ok: true, operatingSystem: "a Docker daemon pgchaos starts (dockerd)", kernelVersion: release() };
    } else {
      const r = await execa("docker", [...(socket ? ["-H", `unix://${socket}`] : []), "info", "--format", "{{json .}}"], { reject: false, timeout: 15_000 });
      docker = r.exitCode === 0 ? parseDockerInfo(r.stdout) : { ok: false, error: (r.stderr || r.stdout || `exit ${r.exitCode}`).trim() };
    }
  }
  const inotify =
    process.platform === "linux"
      ? { maxUserWatches: readNumber("/proc/sys/fs/inotify/max_user_watches"), maxUserInstances: readNumber("/proc/sys/fs/inotify/max_user_instances") }
      : undefined;
  return { os: process.platform, uid: process.getuid?.(), found, docker, kernelRelease: release(), inotify };
}

/** Throws an EnvironmentError listing everything missing, so that one run of the preflight says it all. */
export async function kubePreflight(platform: KubePlatformName): Promise<void> {
  const problems = kubeProblems(platform, await machineFacts(platform));
  if (problems.length > 0) {
    throw new EnvironmentError(`the ${platform} platform cannot run on this machine:\n  - ${problems.join("\n  - ")}`);
  }
}
