/**
 * `--platform kind`: a kind cluster from kind-config.yaml (one control plane, three workers in three zones;
 * the host reaches NodePorts on the control plane's address), created for the run and deleted after it, or an existing one reused with
 * PGCHAOS_KUBE_REUSE=1 (`--reuse`), in which case only the run's namespace is created and deleted.
 */
import { resolve } from "node:path";
import { KUBE_CAPABILITIES, KUBE_WHY_NOT } from "./capabilities.ts";
import type { Logger } from "pino";
import type { PatroniHaStack } from "../../stack/patroni/stack.ts";
import type { V1Node } from "@kubernetes/client-node";
import type { Platform } from "../types.ts";
import { EnvironmentError, errorMessage } from "../../util/errors.ts";
import { makeClients } from "./client.ts";
import { answers, ensureDaemon, OWN_DAEMON } from "../docker/daemon.ts";
import { ensureKindNetwork, kindNodeSetup, removeKindNetwork, type KindNodeSetup } from "./kind-node.ts";
import { cleanupTarget, KubeCluster, type KubeRuntime } from "./cluster.ts";
import { cleanupKube, describeKubeCleanup } from "./cleanup.ts";
import { kubePreflight } from "./preflight.ts";
import { buildMemberImage, ensureLocalImage, internalIp, kubeEnvOptions, REPO_ROOT, run as runCommand, waitNodesReady, type Runner } from "./runtime-common.ts";

export interface KindOptions {
  /** kind cluster name (default "pgchaos", the name in kind-config.yaml). */
  clusterName?: string;
  /** kind config file (default the repository's kind-config.yaml). */
  configPath?: string;
  reuse?: boolean;
  image?: string;
  /** Members the cluster must have room for. */
  members?: number;
  /** Runs kind (and reads its output); runtime-common.ts run unless given (tests). */
  run?: Runner;
  /** The node image, network and kind environment for this machine (kind-node.ts); kind's defaults unless given. */
  setup?: KindNodeSetup;
  /** Called once the run's cluster is torn down: gives up the run's lease on a Docker daemon of ours. */
  release?: () => Promise<void>;
}

/** How long `kind create cluster` may take: a first pull of kindest/node (~1 GB) on a slow line takes minutes. */
export const KIND_CREATE_TIMEOUT_MS = 20 * 60_000;

export const KIND_CLUSTER = "pgchaos";
export const KIND_CONFIG = resolve(REPO_ROOT, "kind-config.yaml");

export function parseKindClusters(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("No kind clusters"));
}

/** `kind create cluster`, waiting for the control plane (180 s, once the node image is there). */
export function kindCreateArgs(name: string, configPath: string, image?: string): string[] {
  return ["create", "cluster", "--name", name, "--config", configPath, ...(image ? ["--image", image] : []), "--wait", "180s"];
}

/**
 * Creates the cluster under an explicit timeout (KIND_CREATE_TIMEOUT_MS); when the create fails or is killed at
 * the timeout, deletes what it left (node containers, a kubeconfig entry) so that the next run does not find
 * a half cluster under that name.
 */
export async function createKindCluster(name: string, configPath: string, runner: Runner, log: Logger, setup?: KindNodeSetup): Promise<void> {
  try {
    await runner("kind", kindCreateArgs(name, configPath, setup?.image), `creating kind cluster ${name} (timeout ${KIND_CREATE_TIMEOUT_MS / 60_000} min)`, KIND_CREATE_TIMEOUT_MS, setup?.env);
  } catch (e) {
    const deleted = await runner("kind", ["delete", "cluster", "--name", name], `deleting the half-created kind cluster ${name}`, 180_000, setup?.env).then(
      () => "deleted what it left",
      (de: unknown) => `could not delete what it left (${errorMessage(de)}): \`kind delete cluster --name ${name}\``,
    );
    log.error({ name, deleted }, "kind create cluster failed");
    throw new Error(`${errorMessage(e)}\n(${deleted})`);
  }
}

/** What to do with the cluster of that name: create it, reuse it, or refuse (it exists and reuse was not asked). */
export function kindClusterDecision(existing: readonly string[], name: string, reuse: boolean): "create" | "reuse" | { refuse: string } {
  if (!existing.includes(name)) return "create";
  if (reuse) return "reuse";
  return {
    refuse:
      `a kind cluster named "${name}" already exists: pass --reuse (PGCHAOS_KUBE_REUSE=1) to run in it (the run gets a namespace of its own ` +
      `and deletes only that), or delete it with \`kind delete cluster --name ${name}\``,
  };
}

/** The control plane's node address: kube-proxy masquerades NodePort traffic entering there to it. */
export function kindClientsAddress(nodes: readonly V1Node[]): string | undefined {
  return internalIp(nodes, (n) => n.metadata?.labels?.["node-role.kubernetes.io/control-plane"] !== undefined);
}

export function kindRuntime(opts: KindOptions): KubeRuntime {
  const name = opts.clusterName ?? KIND_CLUSTER;
  const configPath = opts.configPath ?? KIND_CONFIG;
  const runner = opts.run ?? runCommand;
  const setup = opts.setup;
  const run = (cmd: string, args: string[], what: string, timeoutMs?: number) => runner(cmd, args, what, timeoutMs, setup?.env);
  const host = setup?.env.DOCKER_HOST;
  const deleteCluster = async () => {
    await run("kind", ["delete", "cluster", "--name", name], `deleting kind cluster ${name}`, 180_000);
    if (setup?.network && host) await removeKindNetwork(host, setup.network);
  };
  return {
    platform: "kind",
    async ensureCluster(log: Logger) {
      const existing = parseKindClusters(await run("kind", ["get", "clusters"], "listing kind clusters", 30_000));
      const decision = kindClusterDecision(existing, name, opts.reuse ?? false);
      if (typeof decision === "object") throw new EnvironmentError(decision.refuse);
      if (decision === "create") {
        log.info({ name, configPath, image: setup?.image ?? "kind's default", network: setup?.network ?? "kind's default" }, "creating the kind cluster");
        if (setup?.network && host) await ensureKindNetwork(host, setup.network);
        await createKindCluster(name, configPath, runner, log, setup).catch((e: unknown) => {
          // Without an image of ours kind pulls kindest/node, which a machine without a container registry cannot.
          throw setup && !setup.image ? new Error(`${errorMessage(e)}\n(kind used its default node image, kindest/node, which it pulls from a registry; where none answers, build one here: \`npm run kind:image\`)`) : e;
        });
      }
      try {
        const clients = makeClients({ kubeconfig: await run("kind", ["get", "kubeconfig", "--name", name], "reading the kind cluster's kubeconfig", 30_000) });
        await waitNodesReady(clients, opts.members ?? 3, `kind cluster ${name}`);
        return { created: decision === "create", clients };
      } catch (e) {
        // A cluster this run made and cannot use is not left behind; a reused one is the user's.
        if (decision === "create") await deleteCluster().catch(() => undefined);
        throw e;
      }
    },
    buildImage: (stack: PatroniHaStack, log: Logger, signal?: AbortSignal) => buildMemberImage(stack, log, signal),
    async loadImage(image: string) {
      await ensureLocalImage(image);
      // kind skips nodes that already hold the same image id.
      await run("kind", ["load", "docker-image", image, "--name", name], `loading ${image} into kind cluster ${name}`);
    },
    nodeContainer: (nodeName: string) => nodeName,
    // NodePorts are entered on the control plane's address on the kind network, which a Linux host routes to:
    // nothing is published on the host, so no port is fixed and a reused cluster needs no port mappings.
    async nodePortHost(c) {
      const ip = kindClientsAddress((await c.core.listNode()).items);
      if (!ip) throw new Error(`kind cluster ${name} has no control-plane node with an InternalIP`);
      return ip;
    },
    async clientsAddress(c) {
      const ip = kindClientsAddress((await c.core.listNode()).items);
      if (!ip) throw new Error(`kind cluster ${name} has no control-plane node with an InternalIP`);
      return ip;
    },
    async clusterExists() {
      // A Docker daemon of ours that stopped holds no running cluster: teardown deletes the cluster first and gives up
      // the run's lease on the daemon after, so a daemon the run was the last user of is gone by the time this asks.
      if (host === `unix://${OWN_DAEMON.socket}` && !(await answers(OWN_DAEMON.socket))) return false;
      return parseKindClusters(await run("kind", ["get", "clusters"], "listing kind clusters", 30_000)).includes(name);
    },
    async existingClients() {
      if (!parseKindClusters(await run("kind", ["get", "clusters"], "listing kind clusters", 30_000)).includes(name)) return undefined;
      return makeClients({ kubeconfig: await run("kind", ["get", "kubeconfig", "--name", name], "reading the kind cluster's kubeconfig", 30_000) });
    },
    async deleteCluster(log: Logger) {
      log.info({ name }, "deleting the kind cluster");
      await deleteCluster();
    },
    release: opts.release,
  };
}

/**
 * The kind platform; options left out come from the environment at deploy time: kubeEnvOptions, and
 * PGCHAOS_KIND_CLUSTER for the cluster's name (a CI action that creates the cluster may name it otherwise).
 */
export function makeKindPlatform(opts: KindOptions = {}): Platform {
  return {
    name: "kind",
    capabilities: KUBE_CAPABILITIES,
    whyNot: KUBE_WHY_NOT,
    preflight: () => kubePreflight("kind"),
    async deploy(spec) {
      const env = kubeEnvOptions();
      // The Docker engine the nodes run on: DOCKER_HOST's, the system's, or one of ours (docker/daemon.ts), whose lease
      // the run gives up after teardown. The cluster's own docker commands and the image build read DOCKER_HOST.
      const daemon = await ensureDaemon(spec.signal);
      process.env.DOCKER_HOST ??= daemon.host;
      try {
        const setup = await kindNodeSetup(daemon.host);
        const o: KindOptions = { reuse: env.reuse, image: env.image, members: spec.nodes, clusterName: process.env.PGCHAOS_KIND_CLUSTER || undefined, setup, release: () => daemon.stop(), ...opts };
        return await KubeCluster.deploy(spec, kindRuntime(o), { image: o.image });
      } catch (e) {
        await daemon.stop().catch(() => undefined);
        throw e;
      }
    },
    async cleanup({ force, log }) {
      await kubePreflight("kind");
      const daemon = await ensureDaemon();
      process.env.DOCKER_HOST ??= daemon.host;
      try {
        const runtime = kindRuntime({ clusterName: process.env.PGCHAOS_KIND_CLUSTER || undefined, setup: await kindNodeSetup(daemon.host), ...opts });
        return describeKubeCleanup("kind", await cleanupKube(cleanupTarget(runtime), { force, log }));
      } finally {
        await daemon.stop();
      }
    },
  };
}

export const kindPlatform: Platform = makeKindPlatform();
