/**
 * `--platform kube --context NAME [--namespace NS] [--allow-node-faults]`: the same kube-native Patroni cluster as
 * kind and minikube (KubeCluster, manifests.ts), deployed into any cluster a kubeconfig context reaches (EKS, GKE,
 * AKS, k3s, OpenShift, or a kind or minikube cluster addressed like any other), with no assumption that its nodes
 * are containers of this host:
 *
 * - nothing is created or deleted but the run's namespace (or, with --namespace, the run's objects in it): never a
 *   cluster, never a node;
 * - the image is pulled by the cluster's nodes from a registry (PGCHAOS_KUBE_IMAGE): nothing is loaded into them;
 * - the harness reaches PostgreSQL by port-forward through the API server (forward.ts): the Services are ClusterIP,
 *   no port is opened on the nodes, and the node probes enter each pod on its loopback;
 * - faults are those that go through the Kubernetes API and an exec into our own pods (capabilities.ts
 *   contextCapabilities); a drain cordons a node only with --allow-node-faults; network faults and node failure,
 *   which need a way into the nodes, are refused before deploy with what is missing.
 *
 * The CLI hands the options over in the environment (PGCHAOS_KUBE_CONTEXT, PGCHAOS_KUBE_NAMESPACE,
 * PGCHAOS_KUBE_ALLOW_NODE_FAULTS, PGCHAOS_KUBE_IMAGE; KUBECONFIG as kubectl reads it), as it does --reuse.
 */
import type { Logger } from "pino";
import type { V1Node } from "@kubernetes/client-node";
import type { Cluster, ClusterSpec, Platform } from "../types.ts";
import { EnvironmentError } from "../../util/errors.ts";
import { allowNodeFaultsFromEnv, contextCapabilitiesFromEnv, contextFaultSemantics } from "./capabilities.ts";
import { makeClients, statusOf, apiMessage, type KubeClients } from "./client.ts";
import { cleanupTarget, KubeCluster, type KubeRuntime } from "./cluster.ts";
import { cleanupKube, describeKubeCleanup } from "./cleanup.ts";
import { contextProblems, loadContext } from "./context.ts";
import { apiPortForward } from "./forward.ts";
import { assertPinnedImage } from "./image.ts";
import { CONTROL_PLANE_LABEL } from "./manifests.ts";

export interface ContextOptions {
  /** The kubeconfig context (required). */
  context?: string;
  /** A kubeconfig file; unset: KUBECONFIG, else ~/.kube/config. */
  kubeconfig?: string;
  /** An existing namespace to run in; unset: the run creates pgchaos-<run id> and deletes it. */
  namespace?: string;
  allowNodeFaults: boolean;
  /** An image the cluster's nodes can pull (a registry reference, pinned). */
  image?: string;
  /** `--attach X`: run against an operator's cluster instead of deploying one (attach-cluster.ts). */
  attach?: string;
  /** `--operator NAME` with --attach. */
  operator?: string;
}

/** The options as the CLI hands them over. */
export function contextEnvOptions(env: NodeJS.ProcessEnv = process.env): ContextOptions {
  return {
    context: env.PGCHAOS_KUBE_CONTEXT || undefined,
    namespace: env.PGCHAOS_KUBE_NAMESPACE || undefined,
    allowNodeFaults: allowNodeFaultsFromEnv(env),
    image: env.PGCHAOS_KUBE_IMAGE || undefined,
    attach: env.PGCHAOS_KUBE_ATTACH || undefined,
    operator: env.PGCHAOS_KUBE_OPERATOR || undefined,
  };
}

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** What is wrong with the options themselves, before the cluster is asked anything; each says what to do. */
export function contextOptionProblems(o: ContextOptions): string[] {
  const problems: string[] = [];
  if (!o.context) problems.push("the kube platform needs --context NAME, a context of your kubeconfig (`kubectl config get-contexts` lists them)");
  if (o.namespace !== undefined && (!DNS_1123_LABEL.test(o.namespace) || o.namespace.length > 63)) {
    problems.push(`--namespace "${o.namespace}" is not a namespace name (lower-case letters, digits and '-', at most 63 characters)`);
  }
  if (o.attach !== undefined) {
    // An attached run deploys nothing: no image.
  } else if (!o.image) {
    problems.push(
      "the kube platform cannot load an image into the cluster's nodes (kind and minikube load the member image from this host's Docker engine): " +
        "build it and push it to a registry the nodes pull from with `npm run image -- [--stack NAME] --push <registry>/pgchaos/member`, " +
        "and set PGCHAOS_KUBE_IMAGE to the reference it prints",
    );
  } else {
    try {
      assertPinnedImage(o.image);
    } catch (e) {
      problems.push(`PGCHAOS_KUBE_IMAGE: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Throws an EnvironmentError listing every problem (options, kubeconfig, API server), each naming the context. */
export async function contextPreflight(o: ContextOptions, timeoutMs?: number): Promise<void> {
  const problems = contextOptionProblems(o);
  if (o.context) problems.unshift(...(await contextProblems({ context: o.context, kubeconfig: o.kubeconfig }, timeoutMs)));
  if (problems.length > 0) {
    throw new EnvironmentError(`the kube platform cannot run${o.context ? ` on context "${o.context}"` : ""}:\n  - ${problems.join("\n  - ")}`);
  }
}

/**
 * Why the nodes cannot take `members` members, one per node (the StatefulSet's required anti-affinity), off
 * control planes: undefined when they can. Only Ready, schedulable nodes without a NoSchedule or NoExecute taint
 * count (the members tolerate none); a node that is not Ready on someone's cluster is not waited for.
 */
export function contextNodeProblem(context: string, nodes: readonly V1Node[], members: number): string | undefined {
  const usable = nodes.filter(
    (n) =>
      n.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" &&
      !n.spec?.unschedulable &&
      n.metadata?.labels?.[CONTROL_PLANE_LABEL] === undefined &&
      !(n.spec?.taints ?? []).some((t) => t.effect === "NoSchedule" || t.effect === "NoExecute"),
  );
  if (usable.length >= members) return undefined;
  return (
    `context "${context}": ${usable.length} of ${nodes.length} nodes can take a member (Ready, schedulable, without NoSchedule taints, not a control plane), ` +
    `and the run places ${members} members one per node`
  );
}

export function contextRuntime(o: ContextOptions & { members: number }): KubeRuntime {
  const context = o.context ?? "";
  const clients = async (): Promise<KubeClients> => {
    const loaded = await loadContext({ context, kubeconfig: o.kubeconfig });
    if ("problem" in loaded) throw new EnvironmentError(loaded.problem);
    return makeClients({ kubeConfig: loaded.kc });
  };
  return {
    platform: "kube",
    cordonNodes: o.allowNodeFaults,
    namespace: o.namespace,
    faultSemantics: contextFaultSemantics(o),
    async ensureCluster(log: Logger) {
      const c = await clients();
      try {
        const problem = contextNodeProblem(context, (await c.core.listNode()).items, o.members);
        if (problem) throw new EnvironmentError(problem);
      } catch (e) {
        if (e instanceof EnvironmentError) throw e;
        // A user with one namespace may not list nodes: the scheduler will say it instead (the readiness wait names Pending pods).
        if (statusOf(e) !== 403) throw e;
        log.warn({ context, err: apiMessage(e) }, "cannot list nodes; not checking that there is one per member");
      }
      return { created: false, clients: c };
    },
    // The nodes pull the image from its registry (contextOptionProblems requires one).
    async loadImage() {},
    portForward: (c) => apiPortForward(c.kc),
    clusterExists: async () => true,
    async deleteCluster() {
      throw new Error(`the kube platform never deletes a cluster (context "${context}")`);
    },
    existingClients: clients,
  };
}

/** The kube platform; its options come from the environment at each call (the CLI sets them before it runs). */
export function makeContextPlatform(env: NodeJS.ProcessEnv = process.env): Platform {
  const opts = () => contextEnvOptions(env);
  return {
    name: "kube",
    get capabilities() {
      return contextCapabilitiesFromEnv(env).capabilities;
    },
    get whyNot() {
      return contextCapabilitiesFromEnv(env).whyNot;
    },
    preflight: () => contextPreflight(opts()),
    deploy: (spec) => {
      const o = opts();
      if (o.attach !== undefined) return attachCluster(spec, o);
      return KubeCluster.deploy(spec, contextRuntime({ ...o, members: spec.nodes }), { image: o.image });
    },
    async cleanup({ force, log }) {
      const o = opts();
      // Cleanup pulls no image: any pinned reference satisfies the options check.
      await contextPreflight({ ...o, image: o.image ?? "pgchaos/member:cleanup-0.0" });
      return describeKubeCleanup("kube", await cleanupKube(cleanupTarget(contextRuntime({ ...o, members: 0 })), { force, log }));
    },
  };
}

/** `--attach`: the operator's cluster the options name, found and attached to (attach-cluster.ts). The preflight asked its API server. */
async function attachCluster(spec: ClusterSpec, o: ContextOptions): Promise<Cluster> {
  const { AttachedKubeCluster } = await import("./attach-cluster.ts");
  const { resolveAttach } = await import("./attach-discover.ts");
  const { target, operator, kc, clients, namespace } = await resolveAttach({ ...o, attach: o.attach ?? "" });
  return AttachedKubeCluster.attach(spec, { namespace, target, operator }, { clients, forward: await apiPortForward(kc) });
}

export const contextPlatform: Platform = makeContextPlatform();
