/**
 * `--platform minikube`: `minikube start --nodes <members + 1>` on a profile of its own (the control plane, which
 * minikube leaves schedulable, gets no member: manifests.ts keeps members off control planes), with the Docker
 * driver (nodes are containers, as with kind, so faults enter pods the same way), containerd (crictl finds pod
 * sandboxes), Calico (a CNI that enforces NetworkPolicy) and the rancher local-path provisioner (storage that
 * works on several nodes; minikube's default hostPath provisioner does not). The harness reaches NodePorts on
 * the control plane's address (`minikube ip`).
 */
import type { Logger } from "pino";
import type { PatroniHaStack } from "../../stack/patroni/stack.ts";
import type { V1Node } from "@kubernetes/client-node";
import { KUBE_CAPABILITIES, KUBE_WHY_NOT } from "./capabilities.ts";
import type { Platform } from "../types.ts";
import { EnvironmentError, errorMessage } from "../../util/errors.ts";
import { makeClients } from "./client.ts";
import { cleanupTarget, KubeCluster, type KubeRuntime } from "./cluster.ts";
import { cleanupKube, describeKubeCleanup } from "./cleanup.ts";
import { kubePreflight } from "./preflight.ts";
import { buildMemberImage, ensureLocalImage, internalIp, kubeEnvOptions, run, waitNodesReady } from "./runtime-common.ts";
import { CONTROL_PLANE_LABEL } from "./manifests.ts";
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

/**
 * `minikube start` arguments. As root (which the node probes need), minikube's docker driver refuses to start
 * (DRV_AS_ROOT: "The "docker" driver should not be used with root privileges. If you wish to continue as root,
 * use --force.") unless given `--force`.
 */
export function minikubeStartArgs(profile: string, members: number, kubernetesVersion?: string, opts: { asRoot?: boolean } = {}): string[] {
  return [
    "start",
    "--profile", profile,
    // One node per member, and the control plane, which runs none.
    "--nodes", String(members + 1),
    "--driver", "docker",
    "--container-runtime", "containerd",
    "--cni", "calico",
    "--addons", "storage-provisioner-rancher",
    "--wait", "all",
    ...(kubernetesVersion ? ["--kubernetes-version", kubernetesVersion] : []),
    ...(opts.asRoot ? ["--force"] : []),
  ];
}

/** What to do about a failed `minikube start`, when its output says it: undefined otherwise. */
export function explainMinikubeStart(output: string): string | undefined {
  if (/DRV_AS_ROOT/.test(output)) {
    return (
      "minikube refused to run its docker driver as root (DRV_AS_ROOT), which the node probes need: the platform passes `--force` when it runs as root " +
      "(this minikube refused it anyway: update minikube), or start the profile yourself with `minikube start --force --driver docker ...` and pass --reuse"
    );
  }
  return undefined;
}

/** Annotations in which Calico records the address of a node's tunnel interface (IP-in-IP, VXLAN). */
const CALICO_TUNNEL_ANNOTATIONS = ["projectcalico.org/IPv4IPIPTunnelAddr", "projectcalico.org/IPv4VXLANTunnelAddr"];

/**
 * The address pods see the harness's connections come from. They enter a NodePort on the control plane
 * (`minikube ip`), which runs no member, so kube-proxy forwards them to another node and masquerades them to
 * the address of the interface they leave by: with Calico's IP-in-IP or VXLAN that is the control plane's
 * tunnel address (tunl0, vxlan.calico), not `minikube ip`; without a tunnel, its InternalIP.
 */
export function minikubeClientsAddress(nodes: readonly V1Node[]): string | undefined {
  const cp = nodes.find((n) => n.metadata?.labels?.[CONTROL_PLANE_LABEL] !== undefined) ?? nodes[0];
  if (!cp) return undefined;
  for (const a of CALICO_TUNNEL_ANNOTATIONS) {
    const v = cp.metadata?.annotations?.[a]?.split("/")[0];
    if (v) return v;
  }
  return internalIp([cp], () => true);
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
        try {
          await run("minikube", minikubeStartArgs(profile, members, opts.kubernetesVersion, { asRoot: process.getuid?.() === 0 }), `starting minikube profile ${profile}`, 900_000);
        } catch (e) {
          const hint = explainMinikubeStart(errorMessage(e));
          if (hint) throw new EnvironmentError(`${hint}\n${errorMessage(e)}`);
          throw e;
        }
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
    buildImage: (stack: PatroniHaStack, log: Logger, signal?: AbortSignal) => buildMemberImage(stack, log, signal),
    async loadImage(image: string) {
      await ensureLocalImage(image);
      await run("minikube", ["image", "load", image, "--profile", profile], `loading ${image} into minikube`);
    },
    nodeContainer: (nodeName: string) => nodeName,
    nodePortHost: async () => nodeIp(),
    async clientsAddress(c) {
      const ip = minikubeClientsAddress((await c.core.listNode()).items);
      if (!ip) throw new Error(`minikube profile ${profile} has no control-plane node with an address`);
      return ip;
    },
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
