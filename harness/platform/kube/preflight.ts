/**
 * What the Kubernetes platforms need on the machine, checked before anything is created: the `docker` client
 * and a Docker engine it reaches, the `kind` or `minikube` binary, and (for the node probes, which run on the
 * host inside each pod's network namespace, as on the local platform) Linux, root and `nsenter`.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { execa } from "execa";
import { EnvironmentError } from "../../util/errors.ts";

export type KubePlatformName = "kind" | "minikube";

export interface MachineFacts {
  os: NodeJS.Platform;
  uid: number | undefined;
  /** Binaries found on PATH. */
  found: Record<string, boolean>;
  /** Whether `docker info` answered, and what it said when it did not. */
  docker: { ok: true } | { ok: false; error: string };
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
    problems.push(`the ${platform} platform enters pod network namespaces from the host (node probes), which needs root: run as root (for example \`sudo -E npm run scenario -- ... --platform ${platform}\`)`);
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

export async function machineFacts(platform: KubePlatformName): Promise<MachineFacts> {
  const found = Object.fromEntries(["docker", platform, "nsenter"].map((b) => [b, onPath(b)]));
  let docker: MachineFacts["docker"] = { ok: false, error: "docker is not installed" };
  if (found.docker) {
    const r = await execa("docker", ["info", "--format", "{{.ServerVersion}}"], { reject: false, timeout: 15_000 });
    docker = r.exitCode === 0 ? { ok: true } : { ok: false, error: (r.stderr || r.stdout || `exit ${r.exitCode}`).trim() };
  }
  return { os: process.platform, uid: process.getuid?.(), found, docker };
}

/** Throws an EnvironmentError listing everything missing, so that one run of the preflight says it all. */
export async function kubePreflight(platform: KubePlatformName): Promise<void> {
  const problems = kubeProblems(platform, await machineFacts(platform));
  if (problems.length > 0) {
    throw new EnvironmentError(`the ${platform} platform cannot run on this machine:\n  - ${problems.join("\n  - ")}`);
  }
}
