/**
 * A kube-native Patroni cluster on a local Kubernetes (kind or minikube) or any cluster a kubeconfig context
 * reaches (`--platform kube`, kube.ts), behind the harness's Cluster interface. Everything that can be decided
 * without a cluster is decided in the pure modules beside this one (manifests, rules, eviction, targets, pod-ops,
 * forward, namespace); this file carries their decisions out:
 *
 * - Kubernetes calls go through @kubernetes/client-node (client.ts); `docker` is shelled out to for what
 *   happens inside a node container (crictl, nsenter + iptables / ip / tc in a pod's network namespace).
 * - The member list comes from the pods' labels and annotations and the leader ConfigMap (targets.ts), so it
 *   needs no pod network; Patroni's REST API (switchover, failover, PATCH /config) is called inside the pod by
 *   exec, through the same HA stack code as the local platform's (stack.ts: the image's Patroni).
 * - The harness on the host reaches PostgreSQL through NodePorts the API server allocates per run, entered on a
 *   node's address on the Docker network (nothing is published on the host, so runs never collide); on
 *   `--platform kube`, through port-forward listeners on loopback (forward.ts), and what needs the nodes
 *   (runtime.nodeContainer) refuses, saying why.
 * - Every pod is created held (manifests.ts HOLD_GATE) and released by the harness: a member a fault deleted
 *   stays down until startNode, as on the local platform.
 *
 * It cannot be exercised on a machine without a container engine; the platform contract suite
 * (platform/contract/) runs it where kind runs.
 */
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readlinkSync, writeFileSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { execa } from "execa";
import type { V1Pod } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Cluster, ClusterSpec, Endpoint, Member } from "../types.ts";
import { BRING_UP, PG_PORT, reportedSettings } from "../../stack/patroni/config.ts";
import { stackSettings } from "../../stack/patroni/default.ts";
import { patroniOnly, type PatroniHaStack } from "../../stack/patroni/stack.ts";
import type { AgentApi, EffectiveProfile } from "../../stack/types.ts";
import type { Grudge } from "../../faults/grudge.ts";
import { iptablesRestoreArgv, type NodeCommand } from "../../faults/rules.ts";
import { waitFor } from "../../util/wait.ts";
import { assertReplicasStreaming, assertServiceReaches, oneRunningLeader } from "../ready.ts";
import { startOrTearDown } from "../start-or-teardown.ts";
import { EnvironmentError, errorMessage, UsageError } from "../../util/errors.ts";
import { AbortError } from "p-retry";
import { apply, apiMessage, awaitNamespaceGone, execInPod, isNotFound, requestNamespaceDeletion, retryAfterOf, statusOf, type ExecResult, type KubeClients } from "./client.ts";
import { hostBackProblem } from "./host-back.ts";
import { KUBE_FAULT_SEMANTICS } from "./capabilities.ts";
import {
  allocatedNodePorts,
  applyOrder,
  CONTAINER,
  leaderConfigMapName,
  objectLabels,
  patroniLabels,
  podName,
  primaryServiceName,
  redactedYaml,
  renderManifests,
  syncConfigMapName,
  type KubeManifests,
  type NodePorts,
} from "./manifests.ts";
import { defaultPatroniStack } from "../../stack/patroni/default.ts";
import { assertNodePortReachable, imagePullProblem } from "./runtime-common.ts";
import { isLoopback, LocalForwarder, LOOPBACK, type PodForward } from "../forward.ts";
import { agentState, NET_AGENT, netAgentAdmissionProblem, RELAY_PORT, withNetAgent } from "./net-agent.ts";
import { podBehindService, roundRobin } from "./forward.ts";
import { copyPodLogs, spawnProbeHere } from "./pod-logs.ts";
import { namespaceClaimProblem, runMarkName, runObjectsPlan, selectorOf, type RunObjects } from "./namespace.ts";
import { checkPodPatroni, PatroniMismatchError, podAgentApi, type PodExec } from "./stack.ts";
import { annotationOps, MARKS, ownerAnnotations, type KubeCleanupTarget } from "./cleanup.ts";
import { membersFromPods, primaryLabelled } from "./targets.ts";
import { streamingByOwnAccount } from "../../stack/postgres/walreceiver.ts";
import { podCommands, releasePatch, type PodPart } from "./pod-ops.ts";
import { cordonPatch, drainPlan, evictionBody, evictWithRetry, type DrainStep } from "./eviction.ts";
import {
  crictlPodsArgs,
  hostNsenterArgv,
  kubeDcsCutRules,
  kubePartitionRules,
  nodeNsenterArgv,
  parseInspectp,
  podNetnsOnHost,
  routeRestoreCommands,
  taggedRuleDeletes,
  type ApiServerAddress,
  type IpRoute,
  type Readlink,
  type Sandbox,
} from "./rules.ts";

/** What differs between kind, minikube and a cluster reached by context (`--platform kube`). */
export interface KubeRuntime {
  readonly platform: "kind" | "minikube" | "kube";
  /** Creates the cluster or reuses it; returns how to reach its API server. */
  ensureCluster(log: Logger): Promise<{ created: boolean; clients: KubeClients }>;
  /**
   * The member image of `stack` (platform/image.ts), built on this host's Docker engine before any cluster is created,
   * where the nodes load images from there (kind, minikube). Absent where they pull (`--platform kube`).
   */
  buildImage?(stack: PatroniHaStack, log: Logger, signal?: AbortSignal): Promise<string>;
  /** Makes `image` present on every node (it is on this host's engine, or the nodes pull it). */
  loadImage(image: string, log: Logger): Promise<void>;
  /**
   * Docker container of a Kubernetes node, where nodes are containers of this host's engine (kind and minikube's
   * docker driver name them alike). Absent where they are not (`--platform kube`): what enters a pod's network
   * namespace or powers a node off then refuses, saying why (capabilities.ts refuses those faults before deploy).
   */
  nodeContainer?(nodeName: string): string;
  /** Address on which the host reaches NodePorts (a node's address on the Docker network: nothing is published on the host). Unused with portForward. */
  nodePortHost?(c: KubeClients): Promise<string>;
  /**
   * Address kube-proxy gives NodePort traffic from the host when it forwards it to a pod: the node the host
   * enters through (kind: the control plane). Partitions cut it as "the clients". Unused with portForward.
   */
  clientsAddress?(c: KubeClients): Promise<string>;
  /**
   * Where set, the harness reaches PostgreSQL by port-forward through the API server (forward.ts) instead of
   * NodePorts: its Services are ClusterIP and nothing is opened on the cluster's nodes.
   */
  portForward?(c: KubeClients): Promise<PodForward>;
  /** Whether a graceful stop or drain cordons the member's node (default true; `--platform kube` only with --allow-node-faults). */
  cordonNodes?: boolean;
  /**
   * An existing namespace to run in (`--namespace`): the run neither creates nor deletes it, and deletes only its
   * own objects there (namespace.ts). Unset: a namespace of the run's own, pgchaos-<run id>.
   */
  namespace?: string;
  /** What each fault is on this runtime, for the run's settings; KUBE_FAULT_SEMANTICS (kind, minikube) unless given. */
  faultSemantics?: Readonly<Record<string, string>>;
  storageClassName?: string;
  /** Whether the cluster exists (after teardown: whether deleting it worked). */
  clusterExists(): Promise<boolean>;
  /** Called at the end of teardown: what the runtime holds for the run (a lease on a Docker daemon of ours). */
  release?(): Promise<void>;
  /** Deletes the cluster; only called when this run created it and it is not kept. */
  deleteCluster(log: Logger): Promise<void>;
  /** Clients for the cluster if it exists (for `--cleanup`, which must not create one). */
  existingClients(): Promise<KubeClients | undefined>;
}

/** What `--cleanup` needs of a runtime: its cluster if any, and a way to power a node container back on. */
/** Names of the objects of one step of runObjectsPlan that exist in `namespace`. */
async function listRunObjects(c: KubeClients, namespace: string, step: RunObjects): Promise<string[]> {
  const list = await c.objects.list(step.apiVersion, step.kind, namespace, undefined, undefined, undefined, undefined, step.labelSelector);
  return list.items.map((o) => o.metadata?.name ?? "").filter(Boolean);
}

/**
 * Deletes run `runId`'s objects in a namespace it did not create, one by one (namespace.ts runObjectsPlan), and waits
 * until they are gone, not only asked to go: a foreground deletion leaves the object in place, marked, until the garbage
 * collector has removed what it owns (a StatefulSet's pods, a Service's EndpointSlices), which takes seconds on a busy
 * cluster. The run's mark goes last, once the rest is gone, so that whatever an interrupted cleanup leaves stays marked.
 */
export async function deleteRunObjects(c: KubeClients, namespace: string, runId: string): Promise<void> {
  const plan = runObjectsPlan(runId, NAME);
  const isMark = (step: RunObjects) => step.labelSelector.startsWith(`${MARKS.runMark}=`);
  const mark = plan.filter(isMark);
  const rest = plan.filter((step) => !isMark(step));
  const deleteAll = async (steps: RunObjects[]) => {
    for (const step of steps) {
      for (const name of await listRunObjects(c, namespace, step)) {
        try {
          await c.objects.delete({ apiVersion: step.apiVersion, kind: step.kind, metadata: { name, namespace } }, undefined, undefined, undefined, undefined, "Foreground");
        } catch (e) {
          if (!isNotFound(e)) throw new Error(`deleting ${step.kind} ${namespace}/${name}: ${apiMessage(e)}`);
        }
      }
    }
  };
  const awaitGone = (steps: RunObjects[], what: string) =>
    waitFor({ condition: what, where: `namespace ${namespace}`, timeoutMs: 180_000, intervalMs: 1000 }, async () => {
      const pods = await c.core.listNamespacedPod({ namespace, labelSelector: `${MARKS.run}=${runId}` });
      if (pods.items.length > 0) return false;
      for (const step of steps) {
        if ((await listRunObjects(c, namespace, step)).length > 0) {
          // Asked again: a Patroni still running when its ConfigMaps were deleted may have written them back.
          await deleteAll(steps);
          return false;
        }
      }
      return true;
    });
  await deleteAll(rest);
  await awaitGone(rest, "the run's pods and objects gone");
  await deleteAll(mark);
  await awaitGone(mark, "the run's mark gone");
}

export function cleanupTarget(runtime: KubeRuntime): KubeCleanupTarget {
  return {
    platform: runtime.platform,
    namespace: runtime.namespace,
    deleteRunObjects: (c, namespace, runId) => deleteRunObjects(c, namespace, runId),
    existingClients: () => runtime.existingClients(),
    async bootNode(nodeName: string) {
      if (!runtime.nodeContainer) throw new Error(`node ${nodeName} is marked powered off by a run, but the ${runtime.platform} platform cannot power nodes on: start it from its provider`);
      await docker(["start", runtime.nodeContainer(nodeName)], `starting the node container of ${nodeName}`, 120_000);
    },
    deleteCluster: (log) => runtime.deleteCluster(log),
  };
}

export interface KubeDeployOptions {
  image?: string;
}

interface PodInfo {
  uid: string;
  ip: string;
  nodeName: string;
}

const NAME = "pg";
/** Where the port-forward listeners are (`--platform kube`). */
/** waitReady's reason at deploy: the only time a pod network that cannot be entered fails the call. */
const BRING_UP_REASON = "bring-up";
const TAG_PREFIX = "pgchaos";

/** Runs `docker ARGS`, its stdout; throws naming `what` on a non-zero exit. */
export type DockerRun = (args: string[], what: string, timeoutMs?: number) => Promise<string>;

async function docker(args: string[], what: string, timeoutMs = 30_000): Promise<string> {
  const r = await execa("docker", args, { reject: false, timeout: timeoutMs });
  if (r.exitCode !== 0) throw new Error(`${what}: docker ${args.slice(0, 4).join(" ")} ... exited ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** readlink(2) on the host: the target, or undefined for what is not a link. */
const hostReadlink: Readlink = (path) => {
  try {
    return readlinkSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EINVAL" || code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
};

/** A member's pod will not start as it is (its image cannot be pulled): the user must change something. */
class PodCannotStartError extends EnvironmentError {}

export class KubeCluster implements Cluster {
  readonly platform: string;
  readonly nodes: readonly string[];
  readonly settings: Record<string, unknown>;
  readonly credentials: { user: string; password: string; database: string };
  readonly namespace: string;
  readonly ruleTag: string;
  /** What runs in the pods: the image's Patroni (stack.ts). */
  readonly stack: PatroniHaStack;
  private readonly effective: EffectiveProfile;
  /** Patroni's REST API of a member, by exec in its pod. */
  private readonly agent: AgentApi;
  private readonly exec: PodExec;
  /** `docker` for what happens in node containers (injected by tests). */
  private readonly docker: DockerRun;
  private readonly log: Logger;
  private manifests?: KubeManifests;
  /** The NodePorts the API server allocated to this run's Services (known once they are applied). */
  private ports?: NodePorts;
  private clientsIp = "";
  private api?: ApiServerAddress;
  private readonly pods = new Map<string, PodInfo>();
  private readonly sandboxes = new Map<string, { container: string; sandbox: Sandbox; nodeInitPid?: number; netnsHost?: string }>();
  /** Members taken down by a fault and not started again yet (isNodeRunning). */
  private readonly down = new Set<string>();
  /** Nodes this run cordoned, by the member whose drain cordoned them. */
  private readonly cordoned = new Map<string, string>();
  private readonly savedRoutes = new Map<string, IpRoute[]>();
  /** Uids of the pods whose network agent runs (net-agent.ts; `--platform kube` with network faults). */
  private readonly agentPods = new Set<string>();
  /** Members whose node container a node-failure fault killed, with that container. */
  private readonly failedHosts = new Map<string, string>();
  private tornDown = false;
  private logsCollected = false;
  /** Port-forward listeners (`--platform kube`): the leader Service's, and each member's by ordinal. */
  private primaryForward?: LocalForwarder;
  private readonly memberForwards: LocalForwarder[] = [];
  /** Whether the run created its namespace (and so deletes it whole), or runs in the user's (`--namespace`). */
  private readonly ownNamespace: boolean;

  /**
   * deploy() is what makes a running cluster; constructed directly (tests), nothing is deployed. `exec` runs a
   * command in a member's pod: the Kubernetes exec API unless given.
   */
  constructor(
    readonly spec: ClusterSpec,
    readonly runId: string,
    private readonly runtime: KubeRuntime,
    private readonly c: KubeClients,
    private readonly createdCluster: boolean,
    private readonly nodePortHost: string,
    private readonly passwords: { superuser: string; replication: string; rewind: string },
    private readonly image: string,
    stack: PatroniHaStack,
    exec?: PodExec,
    dockerRun: DockerRun = docker,
  ) {
    this.docker = dockerRun;
    this.platform = runtime.platform;
    this.stack = stack;
    this.effective = stack.effectiveProfile(spec.profile);
    this.exec = exec ?? ((node, argv, timeoutMs, container) => execInPod(this.c, { namespace: this.namespace, pod: node, container: container ?? CONTAINER }, argv, timeoutMs));
    this.agent = podAgentApi((node, argv, timeoutMs) => this.podExec(node, argv, timeoutMs));
    this.namespace = runtime.namespace ?? `pgchaos-${runId}`;
    this.ownNamespace = runtime.namespace === undefined;
    this.ruleTag = `${TAG_PREFIX}-${runId}`;
    this.log = spec.logger.child({ runId, platform: runtime.platform });
    this.nodes = Array.from({ length: spec.nodes }, (_, i) => podName(NAME, i));
    this.credentials = { user: "postgres", password: passwords.superuser, database: "postgres" };
    this.settings = {
      ...reportedSettings(this.effective.profile, spec.nodes, "kubernetes (ConfigMaps)", { image }),
      ...stackSettings(stack, this.effective),
      faultsOnKubernetes: runtime.faultSemantics ?? KUBE_FAULT_SEMANTICS,
      ...(runtime.namespace ? { namespace: runtime.namespace } : {}),
    };
  }

  /** Creates (or reuses) the cluster, applies the manifests and waits for a ready Patroni cluster. */
  static async deploy(spec: ClusterSpec, runtime: KubeRuntime, opts: KubeDeployOptions = {}): Promise<KubeCluster> {
    // The run's stack (Debian 12's Patroni unless --stack names another) runs from the member image built for it, or
    // from the image the user named, whose Patroni is checked once the pods run.
    const stack = patroniOnly(spec.stack, "kube") ?? defaultPatroniStack();
    const log = spec.logger.child({ platform: runtime.platform });
    if (!opts.image && !runtime.buildImage) throw new UsageError(`the ${runtime.platform} platform needs an image its nodes can pull: set PGCHAOS_KUBE_IMAGE (\`npm run image -- --push REPOSITORY\` prints one)`);
    const image = opts.image ?? (await runtime.buildImage!(stack, log, spec.signal));
    const { created, clients } = await runtime.ensureCluster(log);
    const secret = () => randomBytes(18).toString("base64url");
    const runId = randomBytes(4).toString("hex");
    let nodePortHost: string;
    try {
      nodePortHost = runtime.portForward ? LOOPBACK : await runtime.nodePortHost!(clients);
    } catch (e) {
      if (created) await runtime.deleteCluster(log).catch((de) => log.error({ err: errorMessage(de) }, "deleting the cluster after a failed deploy"));
      throw e;
    }
    const cluster = new KubeCluster(spec, runId, runtime, clients, created, nodePortHost, { superuser: secret(), replication: secret(), rewind: secret() }, image, stack);
    return startOrTearDown(cluster, log, async () => {
      await runtime.loadImage(image, log);
      await cluster.start();
    });
  }

  private async start(): Promise<void> {
    const timeoutMs = this.spec.readyTimeoutMs ?? 300_000;
    const labels = objectLabels({ name: NAME, runId: this.runId });
    // The marks let `--cleanup` tell a crashed run's namespace (and cluster) from a live one's.
    const annotations = ownerAnnotations(this.createdCluster);
    if (this.ownNamespace) {
      await this.c.core.createNamespace({ body: { apiVersion: "v1", kind: "Namespace", metadata: { name: this.namespace, labels, annotations } } });
    } else {
      await this.claimNamespace();
      // Not with Patroni's scope labels: Patroni lists its ConfigMaps by them.
      const markLabels = { "app.kubernetes.io/managed-by": "pgchaos", [MARKS.runMark]: this.runId };
      await this.c.core.createNamespacedConfigMap({ namespace: this.namespace, body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: runMarkName(this.runId), labels: markLabels, annotations } } });
    }
    this.manifests = renderManifests({
      name: NAME,
      namespace: this.namespace,
      replicas: this.spec.nodes,
      profile: this.effective.profile,
      image: this.image,
      leaderLabelValue: this.stack.version.rules.primaryRole,
      passwords: this.passwords,
      storageClassName: this.runtime.storageClassName,
      bringUp: { dcs: this.stack.bringUpTimings(), parameters: BRING_UP.parameters },
      runId: this.runId,
      serviceType: this.runtime.portForward ? "ClusterIP" : "NodePort",
    });
    mkdirSync(this.spec.runDir, { recursive: true });
    writeFileSync(join(this.spec.runDir, "kube-manifests.yaml"), redactedYaml(this.manifests));
    for (const obj of applyOrder(this.manifests)) await apply(this.c, obj as Parameters<typeof apply>[1]);
    if (this.runtime.portForward) {
      await this.openForwards(await this.runtime.portForward(this.c));
      this.log.info({ namespace: this.namespace, primary: this.primaryService, members: this.nodes.map((n) => this.endpoint(n).port) }, "manifests applied; port-forward listeners open");
    } else {
      this.ports = allocatedNodePorts(NAME, this.spec.nodes, (await this.c.core.listNamespacedService({ namespace: this.namespace })).items);
      this.log.info({ namespace: this.namespace, nodePortHost: this.nodePortHost, nodePorts: this.ports }, "manifests applied");
      // Fails in seconds, saying why, where the host cannot reach the node's address at all (instead of the
      // readiness wait's minutes).
      await assertNodePortReachable(this.nodePortHost, this.ports.primary, `the ${this.platform} cluster's leader Service`);
      this.clientsIp = await this.runtime.clientsAddress!(this.c);
    }
    // The `kubernetes` Service is only needed by partitions, which need node access or the network agent (and may not
    // be readable by a user with one namespace).
    if (this.runtime.nodeContainer) this.api = await this.apiServerAddress();
    await this.releaseAll(timeoutMs);
    // As soon as the first pod runs: an image whose Patroni is not the run's (PGCHAOS_KUBE_IMAGE) would otherwise show
    // as a leader Service that never routes (Patroni 3 labels its leader master, 4 primary).
    // A pod that does not run within the exec's minute (a slow pull) is checked once the cluster is ready instead.
    const checkStarted = performance.now();
    const checked = await checkPodPatroni((node, argv) => this.execRetried(node, argv, "patroni --version"), this.nodes[0]!, this.stack, this.image).then(
      () => true,
      (e: unknown) => {
        if (e instanceof PatroniMismatchError || e instanceof PodCannotStartError) throw e;
        return false;
      },
    );
    const { leader } = await this.waitReady({ timeoutMs: Math.max(1000, timeoutMs - (performance.now() - checkStarted)), reason: BRING_UP_REASON, signal: this.spec.signal });
    if (!checked) await checkPodPatroni((node, argv, ms) => this.podExec(node, argv, ms), leader, this.stack, this.image);
    await this.applyProfile(leader);
  }

  /**
   * `--namespace`: refuses a namespace that already holds a pgchaos cluster (namespace.ts), and says so when this
   * user cannot even look into it.
   */
  private async claimNamespace(): Promise<void> {
    const labelSelector = selectorOf(patroniLabels(NAME));
    let pods: string[];
    let configMaps: string[];
    let marks: string[];
    try {
      const [p, cm, mk] = await Promise.all([
        this.c.core.listNamespacedPod({ namespace: this.namespace, labelSelector }),
        this.c.core.listNamespacedConfigMap({ namespace: this.namespace, labelSelector }),
        this.c.core.listNamespacedConfigMap({ namespace: this.namespace, labelSelector: MARKS.runMark }),
      ]);
      pods = p.items.map((x) => x.metadata?.name ?? "");
      configMaps = cm.items.map((x) => x.metadata?.name ?? "");
      marks = mk.items.map((x) => x.metadata?.name ?? "");
    } catch (e) {
      throw new EnvironmentError(`namespace ${this.namespace} cannot be used: ${apiMessage(e)} (the run lists, creates and deletes pods, Services, ConfigMaps, Secrets, a StatefulSet and RBAC objects there)`);
    }
    const problem = namespaceClaimProblem(this.namespace, NAME, { pods, configMaps, marks });
    if (problem) throw new EnvironmentError(problem);
    if (this.usesNetAgent) {
      // A user who may not read the namespace learns it from the agent's refusal instead.
      const ns = await this.c.core.readNamespace({ name: this.namespace }).catch(() => undefined);
      const why = netAgentAdmissionProblem(this.namespace, ns?.metadata?.labels);
      if (why) throw new EnvironmentError(why);
    }
  }

  /** The port-forward listeners: the leader Service's (the pod its EndpointSlices name, at each connection) and each member's. */
  private async openForwards(forward: PodForward): Promise<void> {
    const svc = primaryServiceName(NAME);
    const pick = roundRobin();
    const onRefused = (why: string) => this.log.debug({ why }, "connection not forwarded");
    this.primaryForward = await LocalForwarder.open({
      what: "the leader Service",
      namespace: this.namespace,
      port: PG_PORT,
      forward,
      onRefused,
      target: async () =>
        podBehindService(svc, (await this.c.discovery.listNamespacedEndpointSlice({ namespace: this.namespace, labelSelector: `kubernetes.io/service-name=${svc}` })).items, pick),
    });
    for (const n of this.nodes) {
      // Through the network agent's relay where the pod has one: a partition's cut of the clients (the port-forward's
      // own dials to PostgreSQL) must not blind the node probes (net-agent.ts).
      const target = async () => ({ pod: n, port: this.agentRunning(n) ? RELAY_PORT : PG_PORT });
      this.memberForwards.push(await LocalForwarder.open({ what: `member ${n}`, namespace: this.namespace, port: PG_PORT, forward, onRefused, target }));
    }
  }

  private async closeForwards(): Promise<void> {
    for (const f of [this.primaryForward, ...this.memberForwards]) await f?.close().catch(() => undefined);
    this.primaryForward = undefined;
    this.memberForwards.length = 0;
  }

  /** The Kubernetes node's container, or the reason there is none (`--platform kube`). */
  private nodeContainerOf(k8sNode: string, op: string): string {
    if (!this.runtime.nodeContainer) throw this.noNodeAccess(op);
    return this.runtime.nodeContainer(k8sNode);
  }

  private noNodeAccess(op: string): Error {
    return new Error(
      `${op}: the ${this.platform} platform does not enter the cluster's nodes (they are not containers of this host)` +
        (this.usesNetAgent ? "" : ", and this run added no network agent to its pods (only a scenario with partitions or packet loss does)") +
        "; the faults that need it are refused before deploy (harness/platform/kube/capabilities.ts)",
    );
  }

  /**
   * Whether commands in the pods' network namespaces go through the network agent (net-agent.ts): on a cluster
   * reached by context, in a run whose scenario injects network faults.
   */
  private get usesNetAgent(): boolean {
    return !this.runtime.nodeContainer && this.spec.networkFaults === true;
  }

  /** Whether the member's current pod (as members() last saw it) has a running network agent. */
  private agentRunning(node: string): boolean {
    const uid = this.pods.get(node)?.uid;
    return uid !== undefined && this.agentPods.has(uid);
  }

  /**
   * Whether the member's pod, now, has a running network agent (learnt, not added). False where no rule of ours can
   * be: the pod is gone, or the agent was never added to it. An agent that ended (ephemeral containers are never
   * restarted) leaves the pod's rules out of reach: that throws, naming the pod, rather than pass for a clean heal.
   */
  private async hasNetAgent(node: string): Promise<boolean> {
    let pod: V1Pod;
    try {
      pod = await this.c.core.readNamespacedPod({ name: node, namespace: this.namespace });
    } catch (e) {
      if (isNotFound(e)) return false;
      throw new Error(`reading pod ${node} in namespace ${this.namespace}: ${apiMessage(e)}`);
    }
    const st = agentState(pod);
    if (st.state === "absent") return false;
    if (st.state !== "running") {
      throw new Error(`the network agent of pod ${node} is not running (${st.why}): rules it added stay until the pod is deleted (kubectl delete pod ${node} -n ${this.namespace})`);
    }
    this.agentPods.add(pod.metadata?.uid ?? "");
    return true;
  }

  /**
   * Adds the network agent to the member's current pod (the ephemeralcontainers subresource) unless it runs there
   * already, and waits for it to run. A pod recreated by a fault is a new pod, without it: waitReady adds it again.
   */
  private async ensureNetAgent(node: string): Promise<void> {
    const where = `pod ${node} in namespace ${this.namespace}`;
    const read = async () => {
      try {
        return await this.c.core.readNamespacedPod({ name: node, namespace: this.namespace });
      } catch (e) {
        throw new Error(`reading ${where}: ${apiMessage(e)}`);
      }
    };
    let pod = await read();
    const uid = pod.metadata?.uid ?? "";
    if (this.agentPods.has(uid)) return;
    // Patroni patches its own pod every loop: a replace carrying an older resourceVersion is refused (409); read again.
    for (let attempt = 1; agentState(pod).state === "absent"; attempt++) {
      try {
        pod = await this.c.core.replaceNamespacedPodEphemeralcontainers({ name: node, namespace: this.namespace, body: withNetAgent(pod, this.image, PG_PORT) });
        this.log.info({ node, uid }, "network agent added");
        break;
      } catch (e) {
        const status = statusOf(e);
        if (status === 409 && attempt < 10) {
          pod = await read();
          if (pod.metadata?.uid !== uid) throw new Error(`${where} was replaced while its network agent was being added`);
          continue;
        }
        throw new EnvironmentError(
          `cannot add the network agent (ephemeral container ${NET_AGENT}, NET_ADMIN) to ${where}: ${apiMessage(e)}` +
            (status === 403
              ? ". Network faults on a cluster reached by context need the right to update pods/ephemeralcontainers in the namespace, and a Pod Security level that admits NET_ADMIN (privileged); ask for both, or run the scenario on kind or minikube"
              : ""),
        );
      }
    }
    await waitFor({ condition: `network agent ${NET_AGENT} running`, where, timeoutMs: 120_000, intervalMs: 500, signal: this.spec.signal }, async () => {
      const p = await read();
      if (p.metadata?.uid !== uid) throw new AbortError(new Error(`${where} was replaced while its network agent started`));
      const st = agentState(p);
      if (st.state === "terminated") throw new AbortError(new Error(`the network agent of ${where} ended: ${st.why}`));
      if (st.state === "waiting" && /ErrImagePull|ImagePullBackOff|InvalidImageName|CreateContainerConfigError|CreateContainerError/.test(st.why)) {
        throw new AbortError(new Error(`the network agent of ${where} cannot start: ${st.why}`));
      }
      return st.state === "running";
    });
    this.agentPods.add(uid);
    // Sessions opened to this pod before its relay ran go straight to PostgreSQL, where a cut of the clients would
    // blind them: closed, they reconnect through the relay.
    this.memberForwards[this.ordinal(node)]?.dropAll();
  }

  /**
   * The API server's address as the pods reach it, for a user who may not read the `default` namespace (one namespace
   * of a shared cluster): the `kubernetes` Service when it can be read, else the address the kubelet gives every
   * container (KUBERNETES_SERVICE_HOST and _PORT), which is the one Patroni's client uses. Its endpoints are then
   * unknown: a pod's packets carry the Service address, which is the rule that bites (rules.ts apiServerCutRules).
   */
  private async apiServerAddressSeenFrom(node: string): Promise<ApiServerAddress> {
    try {
      return await this.apiServerAddress();
    } catch (e) {
      if (statusOf(e) !== 403) throw e;
    }
    const r = await this.exec(node, ["sh", "-c", 'echo "$KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT"'], 30_000, NET_AGENT);
    const [host, port] = r.stdout.trim().split(/\s+/);
    if (r.exitCode !== 0 || !host || !port) throw new Error(`the API server's address is not readable in namespace default, nor in the environment of ${node}'s pod: ${(r.stderr || r.stdout).trim()}`);
    this.log.info({ host, port }, "the API server's address, from a pod's environment (namespace default not readable)");
    return { serviceIp: host, servicePort: Number(port), endpoints: [] };
  }

  /** The `kubernetes` Service and its endpoints, which a DCS cut drops (rules.ts). */
  private async apiServerAddress(): Promise<ApiServerAddress> {
    const svc = await this.c.core.readNamespacedService({ name: "kubernetes", namespace: "default" });
    const serviceIp = svc.spec?.clusterIP ?? "";
    const servicePort = svc.spec?.ports?.[0]?.port ?? 443;
    const slices = await this.c.discovery.listNamespacedEndpointSlice({ namespace: "default", labelSelector: "kubernetes.io/service-name=kubernetes" });
    const endpoints = slices.items.flatMap((s) => {
      const port = s.ports?.[0]?.port ?? 6443;
      return s.endpoints.flatMap((e) => e.addresses.map((ip) => ({ ip, port })));
    });
    return { serviceIp, servicePort, endpoints };
  }

  /** Puts back the profile's values of what bring-up overrode, and checks every member runs with them. */
  private async applyProfile(leader: string): Promise<void> {
    // The profile as the image's Patroni runs it (its minimum ttl...), which is also what the manifests rendered.
    const members = this.nodes.map((n) => ({ name: n, endpoint: this.endpoint(n) }));
    const restore = await this.stack.applyProfile(this.agent, leader, this.spec.profile, members, this.credentials, { timeoutMs: 30_000, intervalMs: 250, signal: this.spec.signal });
    this.log.info(restore, "profile settings in effect");
  }

  private ordinal(node: string): number {
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new Error(`no member "${node}" in this cluster (members: ${this.nodes.join(", ")})`);
    return i;
  }

  private nodePorts(): NodePorts {
    if (!this.ports) throw new Error(`the NodePorts of namespace ${this.namespace} are not known yet (the Services are not applied)`);
    return this.ports;
  }

  /** The leader Service, on its NodePort (or the local listener that port-forwards to the pod it routes to). */
  get primaryService(): Endpoint {
    if (this.runtime.portForward) {
      if (!this.primaryForward) throw new Error(`the port-forward listeners of namespace ${this.namespace} are not open (the Services are not applied)`);
      return { host: LOOPBACK, port: this.primaryForward.port };
    }
    return { host: this.nodePortHost, port: this.nodePorts().primary };
  }

  endpoint(node: string): Endpoint {
    const i = this.ordinal(node);
    if (this.runtime.portForward) {
      const f = this.memberForwards[i];
      if (!f) throw new Error(`the port-forward listeners of namespace ${this.namespace} are not open (the Services are not applied)`);
      return { host: LOOPBACK, port: f.port };
    }
    return { host: this.nodePortHost, port: this.nodePorts().members[i]! };
  }

  /**
   * The member whose pod has this IP (the write probe learns the server's address from PostgreSQL). Through a
   * port-forward every member answers 127.0.0.1 (the connection enters the pod on its loopback): the member is
   * then the pod that last answered through the leader Service's listener (forward.ts).
   */
  nodeOfAddress(ip: string): string | undefined {
    if (this.runtime.portForward && isLoopback(ip)) return this.primaryForward?.lastAnswered;
    for (const [name, p] of this.pods) if (p.ip === ip) return name;
    return undefined;
  }

  addressOf(node: string): string {
    this.ordinal(node);
    const ip = this.pods.get(node)?.ip;
    if (!ip) throw new Error(`the pod of ${node} has no IP address yet`);
    return ip;
  }

  get clientsAddress(): string {
    return this.clientsIp;
  }

  isNodeRunning(node: string): boolean {
    this.ordinal(node);
    return !this.down.has(node);
  }

  private async listPods(): Promise<V1Pod[]> {
    const selector = Object.entries(patroniLabels(NAME)).map(([k, v]) => `${k}=${v}`).join(",");
    return (await this.c.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector })).items;
  }

  private async annotationsOf(name: string): Promise<Record<string, string> | undefined> {
    try {
      return (await this.c.core.readNamespacedConfigMap({ name, namespace: this.namespace })).metadata?.annotations ?? {};
    } catch (e) {
      if (isNotFound(e)) return {};
      return undefined;
    }
  }

  async members(): Promise<Member[]> {
    let pods: V1Pod[];
    try {
      pods = await this.listPods();
    } catch (e) {
      throw new Error(`cannot list the pods of ${this.namespace}: ${apiMessage(e)}`);
    }
    for (const p of pods) {
      const name = p.metadata?.name;
      if (name && p.status?.podIP) this.pods.set(name, { uid: p.metadata?.uid ?? "", ip: p.status.podIP, nodeName: p.spec?.nodeName ?? "" });
    }
    const [leaderAnnotations, syncAnnotations] = await Promise.all([this.annotationsOf(leaderConfigMapName(NAME)), this.annotationsOf(syncConfigMapName(NAME))]);
    const members = membersFromPods({ pods, leaderAnnotations, syncAnnotations, now: Date.now() });
    // Patroni 3.x writes no replication_state in a member's status: a running replica's streaming is then its own
    // account (pg_stat_wal_receiver), as the local and docker platforms take it from the leader's replication list.
    await streamingByOwnAccount(members, (n) => this.endpoint(n), this.credentials);
    const labelled = primaryLabelled(pods);
    const leader = members.find((m) => m.role === "leader")?.name;
    if (labelled.length > 1 || (labelled.length === 1 && labelled[0] !== leader)) {
      this.log.warn({ labelled, leader }, "the leader Service selects a pod that does not hold the leader lock");
    }
    return members;
  }

  async waitReady(opts: { timeoutMs?: number; reason?: string; signal?: AbortSignal } = {}): Promise<{ ms: number; leader: string }> {
    const started = performance.now();
    const timeoutMs = opts.timeoutMs ?? this.spec.readyTimeoutMs ?? 300_000;
    const where = `namespace ${this.namespace}${opts.reason ? ` (${opts.reason})` : ""}`;
    const left = () => Math.max(1000, timeoutMs - (performance.now() - started));
    await waitFor({ condition: `${this.spec.nodes} pods scheduled and running`, where, timeoutMs: left(), intervalMs: 500, signal: opts.signal }, async () => {
      const pods = await this.listPods();
      // An image the nodes cannot pull never starts: say so now rather than at the timeout.
      const pull = imagePullProblem(pods);
      if (pull) throw new AbortError(new EnvironmentError(pull));
      const notRunning = pods.filter((p) => p.status?.phase !== "Running" || p.metadata?.deletionTimestamp);
      if (pods.length < this.spec.nodes || notRunning.length > 0) {
        const why = notRunning.map((p) => `${p.metadata?.name}: ${p.status?.phase}${p.status?.conditions?.find((c) => c.status === "False" && c.message)?.message ? ` (${p.status?.conditions?.find((c) => c.status === "False" && c.message)?.message})` : ""}`);
        throw new Error(`${pods.length} of ${this.spec.nodes} pods exist; not running: ${why.join(", ") || "none"}`);
      }
      return true;
    });
    const leader = await waitFor({ condition: "one leader", where, timeoutMs: left(), intervalMs: 250, signal: opts.signal }, async () => oneRunningLeader(await this.members()).name);
    await waitFor(
      { condition: `${this.spec.nodes - 1} replicas streaming from ${leader} on its timeline`, where, timeoutMs: left(), intervalMs: 250, signal: opts.signal },
      async () => {
        const ms = await this.members();
        const tl = ms.find((m) => m.role === "leader")?.timeline;
        if (ms.length < this.spec.nodes) throw new Error(`only ${ms.length} of ${this.spec.nodes} members`);
        // streaming undefined: the annotation does not say (Patroni 3.x); the replica's own account decides.
        await assertReplicasStreaming(ms, tl, (n) => this.endpoint(n), this.credentials);
        return true;
      },
    );
    await waitFor({ condition: `the leader Service to route to ${leader}`, where, timeoutMs: left(), intervalMs: 250, signal: opts.signal }, async () => {
      await assertServiceReaches("the leader Service", this.primaryService, this.credentials, leader, (a) => this.nodeOfAddress(a));
      return true;
    });
    for (const n of this.nodes) this.down.delete(n);
    // runInNodeNetwork is synchronous: learn where each pod's network namespace is while nothing is in a hurry.
    // At bring-up a namespace that cannot be entered fails the deploy (every node probe would fail, and the
    // run's split-brain verdict with them); after a fault, a pod recreated meanwhile only loses its probes.
    try {
      await this.prepareNodeNetworks();
    } catch (e) {
      // What the user must change (the agent refused by RBAC or Pod Security) stays an EnvironmentError: exit 2.
      if (e instanceof EnvironmentError) throw e;
      const what = this.usesNetAgent ? "the network agent could not be started in every pod" : "node probes cannot enter the pods' network namespaces";
      if (opts.reason === BRING_UP_REASON) throw new Error(`${what}: ${errorMessage(e)}`);
      this.log.warn({ err: errorMessage(e) }, this.usesNetAgent ? "network agent not running in every pod; node probes of those members bypass its relay" : "pod network namespaces not resolved; node probes will fail");
    }
    const ms = performance.now() - started;
    this.log.info({ ms: Math.round(ms), leader }, "cluster ready");
    return { ms, leader };
  }

  private async podExec(node: string, argv: string[], timeoutMs?: number) {
    this.ordinal(node);
    return this.exec(node, argv, timeoutMs);
  }

  /**
   * An exec whose failures to run at all (not the command's exit status) are retried for up to 60 s, unless the pod
   * cannot start (the kubelet backs off pulling its image): that is said at once (PodCannotStartError), as waitReady
   * says it, rather than after a minute; a pull that fails for a while (a registry's rate limit) fails the run too.
   */
  private async execRetried(node: string, argv: string[], what: string): Promise<ExecResult> {
    return waitFor({ condition: `${what}: an exec that runs`, where: `pod ${node}`, timeoutMs: 60_000, intervalMs: 1000, signal: this.spec.signal }, async () => {
      try {
        return await this.podExec(node, argv);
      } catch (e) {
        const pod = await this.c.core.readNamespacedPod({ name: node, namespace: this.namespace }).catch(() => undefined);
        const why = pod && imagePullProblem([pod]);
        if (why) throw new AbortError(new PodCannotStartError(why));
        throw e;
      }
    });
  }

  private async ctl(node: string, argv: string[], what: string): Promise<string> {
    const r = await this.podExec(node, argv);
    if (r.exitCode !== 0) throw new Error(`${what} on ${node}: exit ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout.trim();
  }

  /**
   * Pod kill. A deletion alone is a graceful stop (even with grace period 0 the kubelet sends SIGTERM, which the
   * pod's init turns into Patroni's shutdown, and Patroni may release the leader key), so: SIGKILL of every
   * process in the pod's container first (exec `kill -9 -1`), then deletion of that pod (grace period 0, its uid
   * as precondition, so that a replacement is never deleted). The StatefulSet recreates the pod at once, held
   * (manifests.ts HOLD_GATE), so the member stays down until startNode, as on the local platform.
   */
  async killNode(node: string): Promise<void> {
    this.ordinal(node);
    let uid: string | undefined;
    try {
      uid = (await this.c.core.readNamespacedPod({ name: node, namespace: this.namespace })).metadata?.uid;
    } catch (e) {
      throw new Error(`killing ${node}: cannot read its pod: ${apiMessage(e)}`);
    }
    this.down.add(node);
    const r = await this.podExec(node, podCommands.killAll(), 15_000);
    if (r.exitCode !== 0) throw new Error(`SIGKILL of every process in the pod of ${node}: exit ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
    try {
      await this.c.core.deleteNamespacedPod({ name: node, namespace: this.namespace, gracePeriodSeconds: 0, body: { preconditions: { uid } } });
    } catch (e) {
      // 404: gone already; 409: the precondition failed, the pod was replaced meanwhile (the replacement is held).
      if (!isNotFound(e) && statusOf(e) !== 409) throw new Error(`deleting pod ${node}: ${apiMessage(e)}`);
    }
    if (uid) this.sandboxes.delete(uid);
    this.log.info({ node, uid }, "pod's processes killed (SIGKILL), pod deleted; its replacement is held until startNode");
  }

  /** Removes the hold of the member's pod (manifests.ts HOLD_GATE): the pod, or undefined while it does not exist (or changed meanwhile). */
  private async releasePod(node: string): Promise<V1Pod | undefined> {
    let p: V1Pod;
    try {
      p = await this.c.core.readNamespacedPod({ name: node, namespace: this.namespace });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const patch = releasePatch(p.spec?.schedulingGates);
    if (!patch) return p;
    try {
      return await this.c.core.patchNamespacedPod({ name: node, namespace: this.namespace, body: patch });
    } catch (e) {
      // A pod replaced or changed meanwhile fails the patch's test: read it again on the next round.
      if (isNotFound(e) || statusOf(e) === 422 || statusOf(e) === 409) return undefined;
      throw new Error(`releasing pod ${node}: ${apiMessage(e)}`);
    }
  }

  /** At bring-up: every member's pod, created held, is released once the StatefulSet has created it. */
  private async releaseAll(timeoutMs: number): Promise<void> {
    await waitFor({ condition: `${this.spec.nodes} pods created and released`, where: `namespace ${this.namespace}`, timeoutMs, intervalMs: 250, signal: this.spec.signal }, async () => {
      const missing: string[] = [];
      for (const n of this.nodes) if (!(await this.releasePod(n))) missing.push(n);
      if (missing.length > 0) throw new Error(`not created (or not released) yet: ${missing.join(", ")}`);
      return true;
    });
  }

  private async runDrainStep(step: DrainStep): Promise<void> {
    switch (step.op) {
      case "cordon":
      case "uncordon": {
        const current = (await this.c.core.readNode({ name: step.node })).metadata?.annotations;
        const mark = annotationOps(current, MARKS.cordonedBy, step.op === "cordon" ? this.runId : undefined);
        await this.c.core.patchNode({ name: step.node, body: [...cordonPatch(step.op === "cordon"), ...mark] });
        return;
      }
      case "evict":
        await evictWithRetry(
          { pod: step.pod, namespace: step.namespace },
          async () => {
            try {
              await this.c.core.createNamespacedPodEviction({ name: step.pod, namespace: step.namespace, body: evictionBody(step.pod, step.namespace) });
              return { status: 201 };
            } catch (e) {
              return { status: statusOf(e) ?? 0, message: apiMessage(e), retryAfterSeconds: retryAfterOf(e) };
            }
          },
          { onRetry: (reason, afterMs) => this.log.info({ reason, afterMs }, "eviction refused; retrying") },
        );
        return;
      case "await-gone": {
        const uid = this.pods.get(step.pod)?.uid;
        await waitFor({ condition: `pod ${step.pod} (uid ${uid}) gone after its eviction`, where: `namespace ${step.namespace}`, timeoutMs: 120_000, intervalMs: 250 }, async () => {
          try {
            const p = await this.c.core.readNamespacedPod({ name: step.pod, namespace: step.namespace });
            return p.metadata?.uid !== uid;
          } catch (e) {
            if (isNotFound(e)) return true;
            throw e;
          }
        });
        return;
      }
    }
  }

  /** Like a drain of the member's node: cordon it, evict the pod (respecting the PodDisruptionBudget), await it gone. */
  async stopNode(node: string): Promise<void> {
    await this.members();
    const p = this.pods.get(node);
    if (!p?.nodeName) throw new Error(`cannot drain ${node}: its pod is not scheduled on a node`);
    const pods = (await this.listPods()).map((x) => ({
      name: x.metadata?.name ?? "",
      namespace: x.metadata?.namespace ?? "",
      nodeName: x.spec?.nodeName,
      owner: x.metadata?.ownerReferences?.find((o) => o.controller)
        ? { kind: x.metadata!.ownerReferences!.find((o) => o.controller)!.kind, name: x.metadata!.ownerReferences!.find((o) => o.controller)!.name }
        : undefined,
    }));
    const plan = drainPlan(p.nodeName, pods, { name: NAME, namespace: this.namespace });
    // Where nodes may not be cordoned (`--platform kube` without --allow-node-faults), the member's pod is evicted
    // alone: its replacement is held by the scheduling gate all the same.
    const cordon = this.runtime.cordonNodes !== false;
    this.down.add(node);
    if (cordon) this.cordoned.set(node, p.nodeName);
    for (const step of plan.inject) if (cordon || step.op !== "cordon") await this.runDrainStep(step);
    this.log.info({ node, k8sNode: p.nodeName, cordoned: cordon }, cordon ? "member drained" : "member's pod evicted (its node not cordoned)");
  }

  /** Undoes what took the member down: uncordons its node, starts Patroni again, and awaits its pod running. */
  async startNode(node: string): Promise<void> {
    this.ordinal(node);
    const k8sNode = this.cordoned.get(node);
    if (k8sNode) {
      await this.runDrainStep({ op: "uncordon", node: k8sNode });
      this.cordoned.delete(node);
    }
    // A pod a kill or a drain deleted was recreated held: releasing it is what starts the member again.
    await waitFor({ condition: `pod ${node} running`, where: `namespace ${this.namespace}`, timeoutMs: 180_000, intervalMs: 500, signal: this.spec.signal }, async () => {
      const p = await this.releasePod(node);
      return p?.status?.phase === "Running" && !p.metadata?.deletionTimestamp && p.status.containerStatuses?.[0]?.state?.running !== undefined;
    });
    // A kubelet that has just started can fail the first execs (the exec stream, not the command): retried.
    const running = await this.execRetried(node, podCommands.patroniRunning(), "asking whether Patroni runs");
    if (running.exitCode !== 0) {
      const r = await this.execRetried(node, podCommands.startPatroni(), "starting Patroni");
      if (r.exitCode !== 0) throw new Error(`starting Patroni on ${node}: exit ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
    }
    this.down.delete(node);
    this.sandboxes.clear();
    await this.members();
  }

  /**
   * Power loss of the Kubernetes node the member's pod runs on: its container is killed (SIGKILL to the
   * node's init, so kubelet, the container runtime and the pod die with no goodbye). The pod stays bound to
   * the dead node (a StatefulSet never runs two pods of one identity), so the member is gone until heal.
   * The control plane is refused: it is the DCS, and losing it is a different fault. Unlike the local
   * platform's, this failure is not entirely silent: the kernel closes the dead processes' sockets over the
   * node's still-attached veth, so peers may get resets (Docker refuses to kill a paused container, so the
   * node cannot be frozen first).
   */
  async failHost(node: string): Promise<{ host: string }> {
    if (!this.runtime.nodeContainer) throw this.noNodeAccess(`failing the machine of ${node}`);
    await this.members();
    const k8sNode = this.pods.get(node)?.nodeName;
    if (!k8sNode) throw new Error(`cannot fail the machine of ${node}: its pod is not scheduled on a node`);
    const n = await this.c.core.readNode({ name: k8sNode });
    if (n.metadata?.labels?.["node-role.kubernetes.io/control-plane"] !== undefined) {
      throw new Error(`${node} runs on the control-plane node ${k8sNode}; failing it would take the API server (the DCS) down with it`);
    }
    const container = this.nodeContainerOf(k8sNode, `failing the machine of ${node}`);
    await this.c.core.patchNode({ name: k8sNode, body: annotationOps(n.metadata?.annotations, MARKS.failedBy, this.runId) });
    this.down.add(node);
    this.failedHosts.set(node, container);
    await this.docker(["kill", "--signal", "KILL", container], `killing the node container ${container}`);
    this.sandboxes.clear();
    this.log.info({ node, k8sNode, container }, "node container killed");
    return { host: k8sNode };
  }

  /**
   * Starts the node's container again, awaits the node back (host-back.ts: a kubelet heartbeat newer than the
   * restart, Ready, and the member's container started again: the Node's Ready and the pod's state from before
   * the failure say nothing), then the member as startNode does.
   */
  async restoreHost(node: string): Promise<void> {
    const container = this.failedHosts.get(node);
    if (!container) return;
    const failed = this.pods.get(node);
    const k8sNode = failed?.nodeName ?? container;
    const since = Date.now();
    await this.docker(["start", container], `starting the node container ${container}`, 120_000);
    const orNone = <T>(p: Promise<T>) => p.catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    await waitFor(
      { condition: `node ${k8sNode} back (a kubelet heartbeat and ${node}'s container started after the restart)`, where: `the ${this.platform} cluster`, timeoutMs: 180_000, intervalMs: 1000, signal: this.spec.signal },
      async () => {
        const [lease, n, pod] = await Promise.all([
          orNone(this.c.coordination.readNamespacedLease({ name: k8sNode, namespace: "kube-node-lease" })),
          this.c.core.readNode({ name: k8sNode }),
          orNone(this.c.core.readNamespacedPod({ name: node, namespace: this.namespace })),
        ]);
        const why = hostBackProblem({
          since,
          node: k8sNode,
          leaseRenewTime: lease?.spec?.renewTime,
          ready: n.status?.conditions?.find((x) => x.type === "Ready")?.status,
          pod: pod && { name: node, uid: pod.metadata?.uid, nodeName: pod.spec?.nodeName, containerStartedAt: pod.status?.containerStatuses?.[0]?.state?.running?.startedAt },
          failedUid: failed?.uid,
        });
        if (why) throw new Error(why);
        return true;
      },
    );
    this.failedHosts.delete(node);
    const current = (await this.c.core.readNode({ name: k8sNode })).metadata?.annotations;
    await this.c.core.patchNode({ name: k8sNode, body: annotationOps(current, MARKS.failedBy) });
    await this.startNode(node);
  }

  async killProcess(node: string, part: "patroni" | "postgres"): Promise<void> {
    const out = await this.ctl(node, podCommands.kill(part), `SIGKILL of ${part}`);
    if (part === "patroni") this.down.add(node);
    this.log.info({ node, part, out }, "process killed");
  }

  async pause(node: string, part: PodPart): Promise<void> {
    const out = await this.ctl(node, podCommands.pause(part), `SIGSTOP of ${part}`);
    this.log.info({ node, part, out }, "paused");
  }

  async resume(node: string): Promise<void> {
    await this.ctl(node, podCommands.resume(), "SIGCONT");
  }

  /**
   * Planned switchover through Patroni's REST API, as the stack asks it on every platform (the leader from
   * GET /cluster, Patroni's 412/503 of its first seconds retried).
   */
  async switchover(opts: { candidate?: string }): Promise<{ from: string; to?: string }> {
    return this.stack.switchover(this.agent, this.agentNodes(), { ...opts, signal: this.spec.signal });
  }

  /** Manual failover to a named replica (POST /failover, without `leader` where Patroni would make it a switchover). */
  async failover(candidate: string): Promise<{ from?: string; to: string }> {
    this.ordinal(candidate);
    return this.stack.failover(this.agent, this.agentNodes(), candidate, this.spec.signal);
  }

  /** Members whose Patroni may answer, those a fault took down last (a pod that is gone fails its exec at once). */
  private agentNodes(): string[] {
    return [...this.nodes.filter((n) => !this.down.has(n)), ...this.nodes.filter((n) => this.down.has(n))];
  }

  /** The pod's sandbox (pause process pid, network namespace path) from its node's container runtime. */
  private async sandboxOf(node: string): Promise<{ container: string; sandbox: Sandbox; nodeInitPid?: number; netnsHost?: string }> {
    let p = this.pods.get(node);
    if (!p) {
      await this.members();
      p = this.pods.get(node);
    }
    if (!p?.nodeName) throw new Error(`the pod of ${node} is not scheduled`);
    const cached = this.sandboxes.get(p.uid);
    if (cached) return cached;
    const container = this.nodeContainerOf(p.nodeName, `entering the network namespace of ${node}`);
    const ids = (await this.docker(["exec", container, ...crictlPodsArgs(node, this.namespace)], `finding the sandbox of ${node}`)).split("\n").filter(Boolean);
    if (ids.length !== 1) throw new Error(`expected one ready sandbox for pod ${node} on ${p.nodeName}, found ${ids.length}`);
    const sandbox = parseInspectp(await this.docker(["exec", container, "crictl", "inspectp", ids[0]!], `inspecting the sandbox of ${node}`));
    const entry = { container, sandbox };
    this.sandboxes.set(p.uid, entry);
    return entry;
  }

  private async inPodNetns(node: string, argv: string[], what: string): Promise<string> {
    if (this.usesNetAgent) {
      await this.ensureNetAgent(node);
      const r = await this.exec(node, argv, 30_000, NET_AGENT);
      if (r.exitCode !== 0) throw new Error(`${what} in the pod of ${node} (network agent): ${(r.stderr || r.stdout).trim()}`);
      return r.stdout;
    }
    const { container, sandbox } = await this.sandboxOf(node);
    const full = nodeNsenterArgv(container, sandbox.pid, argv);
    const r = await execa(full[0]!, full.slice(1), { reject: false, timeout: 30_000 });
    if (r.exitCode !== 0) throw new Error(`${what} in the pod of ${node}: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  }

  async iptables(node: string, args: string[]): Promise<void> {
    await this.inPodNetns(node, ["iptables", "-w", ...args], `iptables ${args.join(" ")}`);
  }

  /** The node's rules in one iptables-restore commit (one exec instead of one per rule: faults/network.ts applyRules). */
  async iptablesBatch(node: string, rules: string[][]): Promise<void> {
    await this.inPodNetns(node, iptablesRestoreArgv(rules), `adding ${rules.length} rule(s) with iptables-restore`);
  }

  async clearRules(node?: string): Promise<number> {
    // Without node access or the network agent no rule can have been added.
    if (!this.runtime.nodeContainer && !this.usesNetAgent) return 0;
    let removed = 0;
    for (const n of node ? [node] : this.nodes) {
      // A pod without the agent holds no rule of ours: the agent is what adds them.
      if (this.usesNetAgent && !(await this.hasNetAgent(n))) continue;
      let listing: string;
      try {
        listing = await this.inPodNetns(n, ["iptables", "-w", "-S"], "listing rules");
      } catch (e) {
        // A pod that is gone took its namespace, and its rules, with it.
        this.log.warn({ node: n, err: errorMessage(e) }, "could not list rules");
        continue;
      }
      const deletes = taggedRuleDeletes(listing, this.ruleTag);
      if (deletes.length === 0) continue;
      // One commit per node (a heal as quick as the inject); rule by rule if that fails (a rule gone meanwhile).
      const batched = await this.inPodNetns(n, iptablesRestoreArgv(deletes), `deleting ${deletes.length} rule(s) with iptables-restore`).then(
        () => true,
        () => false,
      );
      if (batched) {
        removed += deletes.length;
        continue;
      }
      for (const del of deletes) {
        await this.iptables(n, del).catch((e) => this.log.warn({ node: n, err: errorMessage(e) }, "could not delete a rule"));
        removed++;
      }
    }
    return removed;
  }

  async listRules(): Promise<string[]> {
    if (!this.runtime.nodeContainer && !this.usesNetAgent) return [];
    const out: string[] = [];
    for (const n of this.nodes) {
      if (this.usesNetAgent && !(await this.hasNetAgent(n))) continue;
      const listing = await this.inPodNetns(n, ["iptables", "-w", "-S"], "listing rules").catch(() => "");
      out.push(...listing.split("\n").filter((l) => l.includes(this.ruleTag)).map((l) => `${n}: ${l}`));
    }
    return out;
  }

  /** The grudge as this platform applies it: rules.ts kubePartitionRules (peers, clients, and the API server). */
  partitionRules(grudge: Grudge): NodeCommand[] {
    if (!this.runtime.nodeContainer && !this.usesNetAgent) throw this.noNodeAccess("a partition");
    if (!this.api) throw new Error("the API server's address is not known yet");
    const clients = this.usesNetAgent ? { portForward: { pgPort: PG_PORT } } : { address: this.clientsIp };
    return kubePartitionRules({ grudge, all: this.nodes, addressOf: (n) => this.addressOf(n), clients, api: this.api, tag: this.ruleTag });
  }

  /** A DCS-only cut on this platform: the pods lose the API server. */
  dcsCutRules(nodes: readonly string[]): NodeCommand[] {
    if (!this.runtime.nodeContainer && !this.usesNetAgent) throw this.noNodeAccess("a cut from the API server");
    if (!this.api) throw new Error("the API server's address is not known yet");
    return kubeDcsCutRules(nodes, this.api, this.ruleTag);
  }

  async setLink(node: string, up: boolean): Promise<void> {
    if (!up) {
      const routes = JSON.parse(await this.inPodNetns(node, ["ip", "-j", "route", "show"], "reading routes")) as IpRoute[];
      this.savedRoutes.set(node, routes);
      await this.inPodNetns(node, ["ip", "link", "set", "eth0", "down"], "link down");
      return;
    }
    await this.inPodNetns(node, ["ip", "link", "set", "eth0", "up"], "link up");
    for (const args of routeRestoreCommands(this.savedRoutes.get(node) ?? [])) await this.inPodNetns(node, ["ip", ...args], "restoring a route");
    this.savedRoutes.delete(node);
  }

  async tc(node: string, args: string[]): Promise<void> {
    await this.inPodNetns(node, ["tc", ...args], `tc ${args.join(" ")}`);
  }

  async latencyUnsupported(): Promise<string | undefined> {
    if (!this.runtime.nodeContainer) return this.noNodeAccess("added latency").message;
    const n = this.nodes[0]!;
    try {
      await this.tc(n, ["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]);
      await this.tc(n, ["qdisc", "del", "dev", "lo", "root"]).catch(() => undefined);
      return undefined;
    } catch (e) {
      return errorMessage(e);
    }
  }

  /** The DCS is the API server: it has no member per node. */
  async dcsLeader(): Promise<string | undefined> {
    return undefined;
  }

  private noDcsMembers(op: string): never {
    throw new Error(
      `${op}: on the ${this.platform} platform Patroni's DCS is the Kubernetes API server (ConfigMaps), which has no member on each node; ` +
        "DCS faults here are cuts from the API server (partition shape dcs-isolate)",
    );
  }

  async killDcs(): Promise<void> {
    this.noDcsMembers("killing a DCS member");
  }
  async startDcs(): Promise<void> {
    this.noDcsMembers("starting a DCS member");
  }
  async pauseDcs(): Promise<void> {
    this.noDcsMembers("pausing a DCS member");
  }
  async resumeDcs(): Promise<void> {
    // Nothing can have been paused.
  }

  /**
   * Resolves and remembers each pod's network namespace and its node container's pid (runInNodeNetwork is
   * synchronous), and checks that the namespace file is there on the host (rules.ts podNetnsOnHost): throws,
   * saying why, when it is not.
   */
  async prepareNodeNetworks(): Promise<void> {
    // Port-forward needs no namespace of the pods' (runInNodeNetwork); the network agent, where the run has one, is
    // added to every pod now, so that node probes reach each member through its relay before any fault.
    if (!this.runtime.nodeContainer) {
      if (this.usesNetAgent) {
        for (const n of this.nodes) await this.ensureNetAgent(n);
        this.api ??= await this.apiServerAddressSeenFrom(this.nodes[0]!);
      }
      return;
    }
    for (const n of this.nodes) {
      const entry = await this.sandboxOf(n);
      if (entry.nodeInitPid === undefined) {
        const pid = Number((await this.docker(["inspect", "-f", "{{.State.Pid}}", entry.container], `pid of node ${entry.container}`)).trim());
        if (!Number.isInteger(pid) || pid <= 0) throw new Error(`docker reports no running process for the node container ${entry.container} (pid ${pid})`);
        entry.nodeInitPid = pid;
      }
      entry.netnsHost ??= podNetnsOnHost({ node: n, nodeContainer: entry.container, nodeInitPid: entry.nodeInitPid, sandbox: entry.sandbox }, { readlink: hostReadlink, exists: existsSync });
    }
  }

  /**
   * Starts `argv` on the host inside the member's pod network namespace (an application pod beside the
   * database): needs root. The probe's PGHOST/PGPORT, which name the member's NodePort on the host, are
   * rewritten to the pod's own address, which is what an application pod uses. Call prepareNodeNetworks()
   * before: the namespace of a pod created afterwards is not followed.
   */
  runInNodeNetwork(node: string, argv: string[], env: Record<string, string>): ChildProcess {
    const p = this.pods.get(node);
    const entry = p ? this.sandboxes.get(p.uid) : undefined;
    const fixedEnv = { ...env };
    const ep = this.endpoint(node);
    if (p?.ip && fixedEnv.PGHOST === ep.host && fixedEnv.PGPORT === String(ep.port)) {
      fixedEnv.PGHOST = p.ip;
      fixedEnv.PGPORT = String(PG_PORT);
    }
    const logDir = join(this.spec.runDir, "logs");
    mkdirSync(logDir, { recursive: true });
    // `--platform kube`: the probe runs here and reaches its member through the member's port-forward listener
    // (PGHOST/PGPORT from endpoint()).
    if (!this.runtime.nodeContainer) return spawnProbeHere(this.spec.runDir, node, argv, env, this.namespace);
    const err = openSync(join(logDir, `agent-${node}.log`), "a");
    try {
      if (!entry?.sandbox.netnsPath || entry.nodeInitPid === undefined || entry.netnsHost === undefined) {
        const why = `pgchaos: the network namespace of ${node} is not known (prepareNodeNetworks() was not called or failed, or the pod was recreated)`;
        return spawn("sh", ["-c", 'echo "$1" >&2; exit 1', "sh", why], { stdio: ["ignore", "pipe", err] });
      }
      const full = hostNsenterArgv(entry.nodeInitPid, entry.sandbox.netnsPath, [...argv, `--pgchaos-run=${this.namespace}`], hostReadlink);
      return spawn(full[0]!, full.slice(1), { stdio: ["ignore", "pipe", err], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...fixedEnv } });
    } finally {
      closeSync(err);
    }
  }

  async collectLogs(): Promise<void> {
    if (this.logsCollected) return;
    const dest = join(this.spec.runDir, "logs");
    await copyPodLogs(this.c, { namespace: this.namespace, pods: this.nodes, container: CONTAINER, dest, base: "patroni" });
    try {
      const events = await this.c.core.listNamespacedEvent({ namespace: this.namespace });
      const lines = events.items.map((e) => `${e.lastTimestamp ?? e.eventTime ?? ""} ${e.type} ${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message ?? ""}`);
      writeFileSync(join(dest, "events.log"), lines.join("\n") + "\n");
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, "could not read events");
    }
    if (this.manifests) writeFileSync(join(dest, "kube-manifests.yaml"), redactedYaml(this.manifests));
    this.logsCollected = true;
  }

  /**
   * What of this run is still there: the cluster, when the run created it and deleted it at teardown;
   * otherwise the run's namespace (everything it applied lives in it) and nodes it left cordoned.
   */
  async leftovers(): Promise<string[]> {
    const out: string[] = [];
    if (this.createdCluster && !this.spec.keep && this.tornDown) {
      if (await this.runtime.clusterExists()) out.push(`the ${this.platform} cluster this run created still exists`);
      return out;
    }
    if (this.ownNamespace) {
      try {
        const ns = await this.c.core.readNamespace({ name: this.namespace });
        out.push(`namespace ${this.namespace} (${ns.status?.phase ?? "?"})`);
      } catch (e) {
        if (!isNotFound(e)) out.push(`namespace ${this.namespace}: ${apiMessage(e)}`);
      }
    } else {
      for (const step of runObjectsPlan(this.runId, NAME)) {
        const items = await this.listObjects(step).catch((e: unknown) => [`(${apiMessage(e)})`]);
        for (const name of items) out.push(`${step.kind} ${this.namespace}/${name}`);
      }
    }
    for (const container of this.failedHosts.values()) out.push(`node container ${container} left stopped`);
    const nodes = await this.c.core.listNode().catch(() => undefined);
    for (const n of nodes?.items ?? []) {
      if (n.spec?.unschedulable && [...this.cordoned.values()].includes(n.metadata?.name ?? "")) out.push(`node ${n.metadata?.name} cordoned`);
    }
    return out;
  }

  /** Names of the objects of one step of runObjectsPlan that exist. */
  private listObjects(step: RunObjects): Promise<string[]> {
    return listRunObjects(this.c, this.namespace, step);
  }

  /** `--namespace`: deletes the run's objects one by one (namespace.ts runObjectsPlan), and waits for them to be gone. */
  private deleteRunObjects(): Promise<void> {
    return deleteRunObjects(this.c, this.namespace, this.runId);
  }

  async teardown(): Promise<{ ms: number }> {
    const started = performance.now();
    if (this.tornDown) return { ms: 0 };
    this.tornDown = true;
    await this.closeForwards();
    await this.collectLogs().catch((e) => this.log.warn({ err: errorMessage(e) }, "could not copy logs"));
    // A machine a fault left powered off is booted again, unless the whole cluster is about to be deleted.
    if (!(this.createdCluster && !this.spec.keep)) {
      for (const [member, container] of this.failedHosts) {
        await this.docker(["start", container], `starting the node container ${container}`, 120_000)
          .then(() => this.failedHosts.delete(member))
          .catch((e) => this.log.error({ member, container, err: errorMessage(e) }, "starting a failed node again"));
      }
    } else {
      this.failedHosts.clear();
    }
    for (const [member, k8sNode] of this.cordoned) {
      await this.runDrainStep({ op: "uncordon", node: k8sNode }).catch((e) => this.log.error({ member, k8sNode, err: errorMessage(e) }, "uncordon failed"));
    }
    this.cordoned.clear();
    if (this.spec.keep) {
      this.log.info({ namespace: this.namespace }, "namespace and cluster kept");
      return { ms: performance.now() - started };
    }
    try {
      if (this.createdCluster) {
        await this.runtime.deleteCluster(this.log);
      } else if (this.ownNamespace) {
        await requestNamespaceDeletion(this.c, this.namespace);
        await awaitNamespaceGone(this.c, this.namespace, `the ${this.platform} cluster`);
      } else {
        await this.deleteRunObjects();
      }
    } finally {
      await this.runtime.release?.();
    }
    const ms = performance.now() - started;
    this.log.info({ ms: Math.round(ms) }, "teardown complete");
    return { ms };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.teardown();
  }
}
