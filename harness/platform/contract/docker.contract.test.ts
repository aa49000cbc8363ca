/**
 * The platform contract on the docker platform: containers on a Docker daemon (the machine's, or one pgchaos starts
 * with its own socket and data root), the image built here from debootstrap and Debian's archive. Like the local
 * suite it runs with `npm test` (PGCHAOS_CLUSTER_TESTS=1) as root; dockerd and debootstrap come from `npm run setup`.
 */
import { existsSync } from "node:fs";
import { execa } from "execa";
import type { Cluster } from "../types.ts";
import { dockerPlatform, makeDockerPlatform } from "../docker/index.ts";
import { DOCKER } from "../image.ts";
import { LABEL_RUN } from "../docker/cluster.ts";
import { DOCKERD, answers, execRootMounts } from "../docker/daemon.ts";
import { skipClusterTests } from "../../testing/leftovers.ts";
import { platformContract, type ContractOptions } from "./contract.ts";
import { listStacks } from "../../stack/patroni/versions.ts";

const skip = skipClusterTests();
const noDocker = !existsSync(DOCKERD) && !process.env.DOCKER_HOST && !process.env.CI;

const options = (stack: string, variant?: string): ContractOptions => ({
  skipReason: skip ? "see the message above" : noDocker ? "docker.io is not installed (`npm run setup` installs it)" : undefined,
  stack,
  variant,
  deployTimeoutMs: 600_000,
  // What the pod's Patroni says, asked inside the pod (whatever the reach).
  agentVersion: async (cluster, node) => {
    const d = cluster as unknown as { daemon: { host: string }; runId: string };
    const r = await execa(DOCKER, ["-H", d.daemon.host, "exec", `pgchaos-${d.runId}-${node}-pod`, "patroni", "--version"]);
    return r.stdout.replace(/^patroni /, "").trim();
  },
  leftovers: async (cluster: Cluster) => {
    const runId = (cluster as { runId?: string }).runId;
    const d = (cluster as unknown as { daemon: { host: string; socket: string; ours: boolean } }).daemon;
    // A daemon the run started is stopped with it.
    if (d.ours) return [...((await answers(d.socket)) ? ["the dockerd this run started still answers"] : []), ...execRootMounts().map((m) => `mount ${m}`)];
    const left: string[] = [];
    for (const kind of ["ps -a", "network ls", "volume ls"]) {
      const r = await execa(DOCKER, ["-H", d.host, ...kind.split(" "), "-q", "--filter", `label=${LABEL_RUN}=${runId}`], { reject: false });
      left.push(...r.stdout.split("\n").filter(Boolean).map((id) => `${kind.split(" ")[0]}: ${id}`));
    }
    return left;
  },
});

// Every Patroni version, as on the local platform: the member image, and one layer per fetched version on top.
for (const stack of listStacks().map((s) => s.name)) platformContract("docker", () => dockerPlatform, options(stack));
// Forward reach, what Docker Desktop and users without root get (reach.ts): everything through docker exec.
platformContract("docker", () => makeDockerPlatform({ reach: "forward" }), options("patroni@3.0.2", "forward reach"));
