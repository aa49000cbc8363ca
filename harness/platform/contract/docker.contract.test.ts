/**
 * The platform contract on the docker platform: containers on a Docker daemon (the machine's, or one pgchaos starts
 * with its own socket and data root), the image built here from debootstrap and Debian's archive. Like the local
 * suite it runs with `npm test` (PGCHAOS_CLUSTER_TESTS=1) as root; dockerd and debootstrap come from `npm run setup`.
 */
import { existsSync } from "node:fs";
import { execa } from "execa";
import type { Cluster } from "../types.ts";
import { dockerPlatform } from "../docker/index.ts";
import { DOCKER } from "../image.ts";
import { LABEL_RUN } from "../docker/cluster.ts";
import { DOCKERD, answers, execRootMounts } from "../docker/daemon.ts";
import { skipClusterTests } from "../../testing/leftovers.ts";
import { platformContract } from "./contract.ts";
import { REST_PORT } from "../../stack/patroni/config.ts";
import { listStacks } from "../../stack/patroni/versions.ts";

const skip = skipClusterTests();
const noDocker = !existsSync(DOCKERD) && !process.env.DOCKER_HOST && !process.env.CI;

// Every Patroni version, as on the local platform: the member image, and one layer per fetched version on top.
for (const stack of listStacks().map((s) => s.name)) platformContract("docker", () => dockerPlatform, {
  skipReason: skip ? "see the message above" : noDocker ? "docker.io is not installed (`npm run setup` installs it)" : undefined,
  stack,
  deployTimeoutMs: 600_000,
  agentVersion: async (cluster, node) => {
    const res = await fetch(`http://${cluster.addressOf(node)}:${REST_PORT}/patroni`, { signal: AbortSignal.timeout(2000) });
    return ((await res.json()) as { patroni?: { version?: string } }).patroni?.version ?? "?";
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
