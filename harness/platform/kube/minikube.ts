/**
 * `--platform minikube`: `minikube start --nodes 3` on a profile of its own, with the Docker driver (nodes are
 * containers, as with kind, so faults enter pods the same way), containerd (crictl finds pod sandboxes),
 * Calico (a CNI that enforces NetworkPolicy) and the rancher local-path provisioner (storage that works on
 * several nodes; minikube's default hostPath provisioner does not). The harness reaches NodePorts on the
 * first node's address (`minikube ip`).
 */
import type { Logger } from "pino";
import { KUBE_CAPABILITIES, KUBE_WHY_NOT } from "./capabilities.ts";
import type { Platform } from "../types.ts";
import { EnvironmentError } from "../../util/errors.ts";
import { makeClients } from "./client.ts";
import { cleanupTarget, KubeCluster, type KubeRuntime } from "./cluster.ts";
import { cleanupKube, describeKubeCleanup } from "./cleanup.ts";
import { kubePreflight } from "./preflight.ts";
import { ensureLocalImage, kubeEnvOptions, run, waitNodesReady } from "./runtime-common.ts";
import { execa } from "execa";

export interface MinikubeOptions {
  profile?: string;
  reuse?: boolean;
  image?: string;
  members?: number;
  /** `--kubernetes-version`; minikube's default when unset. */
  kubernetesVersion?: string;
}

export const MINIKUBE_PROFILE = "pgchaos";

export function minikubeStartArgs(profile: string, nodes: number, kubernetesVersion?: string): string[] {
  return [
    "start",
    "--profile", profile,
    "--nodes", String(nodes),
    "--driver", "docker",
    "--container-runtime", "containerd",
    "--cni", "calico",
    "--addons", "storage-provisioner-rancher",
    "--wait", "all",
    ...(kubernetesVersion ? ["--kubernetes-version", kubernetesVersion] : []),
  ];
}

/** `minikube profile list -o json`: the names of valid profiles. */
export function parseMinikubeProfiles(json: string): string[] {
  try {
    const v = JSON.parse(json) as { valid?: Array<{ Name?: string }> };
    return (v.valid ?? []).map((p) => p.Name ?? "").filter(Boolean);
  } catch {
    return [];
  }
}

export function minikubeRuntime(opts: MinikubeOptions): KubeRuntime {
  const profile = opts.profile ?? MINIKUBE_PROFILE;
  const members = opts.members ?? 3;
  let ip: string | undefined;
  const nodeIp = async () => (ip ??= (await run("minikube", ["ip", "--profile", profile], "asking minikube for its address", 30_000)).trim());
  return {
    platform: "minikube",
    storageClassName: "local-path",
    async ensureCluster(log: Logger) {
      const list = await execa("minikube", ["profile", "list", "--output", "json"], { reject: false, timeout: 60_000 });
      const exists = parseMinikubeProfiles(list.stdout).includes(profile);
      if (exists && !opts.reuse) {
        throw new EnvironmentError(
          `a minikube profile named "${profile}" already exists: pass --reuse (PGCHAOS_KUBE_REUSE=1) to run in it, or delete it with \`minikube delete --profile ${profile}\``,
        );
      }
      if (!exists) {
        log.info({ profile, members }, "starting minikube");
        await run("minikube", minikubeStartArgs(profile, members, opts.kubernetesVersion), `starting minikube profile ${profile}`, 900_000);
      }
      try {
        // minikube writes a context named after the profile into the default kubeconfig.
        const clients = makeClients({ context: profile });
        await waitNodesReady(clients, members, `minikube profile ${profile}`);
        return { created: !exists, clients };
      } catch (e) {
        if (!exists) await run("minikube", ["delete", "--profile", profile], `deleting minikube profile ${profile}`, 300_000).catch(() => undefined);
        throw e;
      }
    },
    async loadImage(image: string, log: Logger) {
      await ensureLocalImage(image, log);
      await run("minikube", ["image", "load", image, "--profile", profile], `loading ${image} into minikube`);
    },
    nodeContainer: (nodeName: string) => nodeName,
    nodePortHost: nodeIp,
    // The host enters through the first node, whose address kube-proxy masquerades NodePort traffic to.
    clientsAddress: async () => nodeIp(),
    async clusterExists() {
      const list = await execa("minikube", ["profile", "list", "--output", "json"], { reject: false, timeout: 60_000 });
      return parseMinikubeProfiles(list.stdout).includes(profile);
    },
    async existingClients() {
      const list = await execa("minikube", ["profile", "list", "--output", "json"], { reject: false, timeout: 60_000 });
      return parseMinikubeProfiles(list.stdout).includes(profile) ? makeClients({ context: profile }) : undefined;
    },
    async deleteCluster(log: Logger) {
      log.info({ profile }, "deleting the minikube profile");
      await run("minikube", ["delete", "--profile", profile], `deleting minikube profile ${profile}`, 300_000);
    },
  };
}

export function makeMinikubePlatform(opts: MinikubeOptions = {}): Platform {
  return {
    name: "minikube",
    capabilities: KUBE_CAPABILITIES,
    whyNot: KUBE_WHY_NOT,
    preflight: () => kubePreflight("minikube"),
    deploy: (spec) => {
      const env = kubeEnvOptions();
      const o: MinikubeOptions = { reuse: env.reuse, image: env.image, members: spec.nodes, ...opts };
      return KubeCluster.deploy(spec, minikubeRuntime(o), { image: o.image });
    },
    async cleanup({ force, log }) {
      await kubePreflight("minikube");
      return describeKubeCleanup("minikube", await cleanupKube(cleanupTarget(minikubeRuntime(opts)), { force, log }));
    },
  };
}

export const minikubePlatform: Platform = makeMinikubePlatform();
