import { patroniOnly } from "../../stack/patroni/stack.ts";
import { existsSync } from "node:fs";
import type { Logger } from "pino";
import type { Platform } from "../types.ts";
import type { PlatformCapability } from "../../scenario/capabilities.ts";
import { EnvironmentError } from "../../util/errors.ts";
import { processExists } from "../../util/pid.ts";
import { DOCKERD, ensureDaemon, runningDaemonSocket } from "./daemon.ts";
import { DOCKER, ensureImage } from "../image.ts";
import { reachFacts, reachMode, type ReachMode } from "./reach.ts";
import { DockerCluster, LABEL_OWNER, LABEL_RUN, WORK_ROOT, removeRun } from "./cluster.ts";
import { processesMentioning, signalAll, waitGone } from "../local/procs.ts";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";

const CAPABILITIES: ReadonlySet<PlatformCapability> = new Set<PlatformCapability>(["kill", "graceful-stop", "pause", "process-kill", "partition", "link-down", "packet-loss", "latency", "node-failure", "dcs-members"]);

/**
 * Members as containers on a Docker daemon (ours, started here, when the machine runs none). `reach` forces how the
 * harness reaches them (reach.ts); PGCHAOS_DOCKER_REACH, else what this machine allows, when undefined.
 */
export function makeDockerPlatform(opts: { reach?: ReachMode } = {}): Platform {
  return {
    name: "docker",
    stacksInImage: true,
    capabilities: CAPABILITIES,
    whyNot: {
      "node-drain": "the docker platform has no scheduler to drain a node of: use kind, minikube or kube",
      backup: "backups and restores run on the local platform only, for now: the member image carries no pgBackRest",
    },
    async preflight() {
      const daemonAnswers = process.env.DOCKER_HOST !== undefined || (await runningDaemonSocket()) !== undefined;
      if (!daemonAnswers && !existsSync(DOCKERD)) throw new EnvironmentError("the docker platform needs Docker: `npm run setup` installs docker.io (pgchaos starts dockerd itself), or start your Docker and set DOCKER_HOST");
      // Without root (or off Linux) the run reaches the containers through docker exec (reach.ts): nothing to refuse, but
      // a reach asked for that cannot work is refused here.
      reachMode({ env: process.env.PGCHAOS_DOCKER_REACH, linux: process.platform === "linux", root: process.getuid?.() === 0, desktop: false, localEngine: true });
    },
    async deploy(spec) {
      const daemon = await ensureDaemon(spec.signal);
      try {
        const reach = opts.reach ?? reachMode(await reachFacts(daemon.host));
        const image = await ensureImage(daemon.host, (l) => spec.logger.info(l), spec.signal, patroniOnly(spec.stack, "docker"));
        return await DockerCluster.deploy(spec, image, daemon, reach);
      } catch (e) {
        // This run gives up its lease on a daemon of ours, whichever way it fails (the cluster's teardown does once deployed).
        await daemon.stop().catch(() => undefined);
        throw e;
      }
    },
    async cleanup({ force, log }: { force?: boolean; log: Logger }) {
      const daemon = await ensureDaemon();
      // Runs are found by their containers' and networks' labels: the run, and the pgchaos process that owns it.
      const runs = new Map<string, number>();
      for (const kind of ["ps -a", "network ls", "volume ls"]) {
        const r = await execa(DOCKER, ["-H", daemon.host, ...kind.split(" "), "--filter", `label=${LABEL_RUN}`, "--format", `{{.Label "${LABEL_RUN}"}} {{.Label "${LABEL_OWNER}"}}`], { reject: false });
        for (const line of r.stdout.split("\n").filter(Boolean)) {
          const [run, owner] = line.split(" ");
          runs.set(run!, Number(owner));
        }
      }
      const lines: string[] = [];
      for (const [run, owner] of runs) {
        if (!force && processExists(owner)) {
          lines.push(`left run ${run} alone: its pgchaos process ${owner} is alive (use --force)`);
          continue;
        }
        // What the run started on this machine: haproxy and the probes in the members' networks.
        const pids = processesMentioning(join(WORK_ROOT, run));
        signalAll(pids, "SIGKILL");
        await waitGone(pids, 5000);
        rmSync(join(WORK_ROOT, run), { recursive: true, force: true });
        const r = await removeRun(daemon.host, run);
        log.info({ run, ...r }, "removed");
        lines.push(`removed run ${run}: ${r.containers} containers, ${r.networks} networks, ${r.volumes} volumes`);
      }
      await daemon.stop();
      return lines.length > 0 ? lines : ["nothing to clean up"];
    },
  };
}

export const dockerPlatform: Platform = makeDockerPlatform();

