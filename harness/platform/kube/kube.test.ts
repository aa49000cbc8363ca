/**
 * `--platform kube --context NAME`: what it offers and refuses (per scenario, before anything is deployed), its
 * options and preflight (against kubeconfig files in a temporary folder, loopback only), and the cluster logic
 * that differs from kind's (no node access, eviction without cordon, a namespace of the user's) against a
 * stand-in of the Kubernetes API. Nothing here reaches a cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { ApiException, type V1Node, type V1Pod } from "@kubernetes/client-node";
import { listScenarios, loadScenario } from "../../scenario/loader.ts";
import { unsupported } from "../../scenario/capabilities.ts";
import { PATRONI_CAPABILITIES } from "../../stack/patroni/stack.ts";
import { getProfile } from "../../stack/patroni/profiles.ts";
import { getPlatform, PLATFORM_NAMES } from "../index.ts";
import { EnvironmentError } from "../../util/errors.ts";
import type { ClusterSpec } from "../types.ts";
import { contextCapabilities, contextFaultSemantics, contextWhyNot } from "./capabilities.ts";
import type { ExecResult, KubeClients } from "./client.ts";
import { deleteRunObjects, KubeCluster, type KubeRuntime } from "./cluster.ts";
import { TEST_IMAGE, testStack } from "./test-stack.ts";
import { contextEnvOptions, contextNodeProblem, contextOptionProblems, contextPreflight, contextRuntime, makeContextPlatform } from "./kube.ts";
import { MARKS } from "./cleanup.ts";
import { namespaceClaimProblem, runObjectsPlan } from "./namespace.ts";
import type { PodExec } from "./stack.ts";
import { imagePullProblem } from "./runtime-common.ts";
import type { PodForward } from "../forward.ts";

const IMAGE = "registry.example.com/pgchaos/patroni:4.0.10-pg17.6";
const stack = { name: "patroni", capabilities: PATRONI_CAPABILITIES };

describe("what the kube platform offers, and refuses before deploy", () => {
  const shared = { name: "kube", capabilities: contextCapabilities({ allowNodeFaults: false }), whyNot: contextWhyNot({ allowNodeFaults: false }) };
  const allowed = { name: "kube", capabilities: contextCapabilities({ allowNodeFaults: true }), whyNot: contextWhyNot({ allowNodeFaults: true }) };

  it("runs what goes through the API and an exec in its own pods, and refuses the rest per scenario", async () => {
    const verdicts: Record<string, string> = {};
    for (const name of listScenarios()) {
      const s = await loadScenario(name);
      const missing = unsupported(s.schedule.map((x) => x.fault), shared, stack);
      verdicts[name] = missing.length === 0 ? "runs" : "refused";
    }
    expect(verdicts).toEqual({
      bridge: "runs",
      "dcs-loss": "refused",
      "disaster-recovery": "refused",
      "etcd-leader-kill": "refused",
      "etcd-pause": "refused",
      "etcd-quorum-loss": "refused",
      "failover-to-replica": "runs",
      "link-down": "refused",
      "majority-minority": "runs",
      "packet-loss": "runs",
      "patroni-kill": "runs",
      "pod-restart": "runs",
      "postgres-kill": "runs",
      "primary-dcs-isolate": "runs",
      "primary-drain": "refused",
      "primary-isolate": "runs",
      "primary-kill": "runs",
      "primary-latency": "refused",
      "primary-node-failure": "refused",
      "primary-oneway-in": "runs",
      "primary-oneway-out": "runs",
      "primary-pause": "runs",
      "primary-stop": "runs",
      "replica-kill": "runs",
      "rolling-restart": "runs",
      switchover: "runs",
    });
  });

  it("runs partitions and packet loss through its network agent, and refuses the link faults, saying why", () => {
    for (const f of [{ kind: "partition", shape: "isolate", target: "primary" }, { kind: "partition", shape: "dcs-isolate", target: "primary" }, { kind: "packet-loss", target: "primary", probability: 0.1 }]) {
      expect(unsupported([f as never], shared, stack), f.kind).toEqual([]);
    }
    for (const kind of ["link-down", "latency"]) {
      const [why] = unsupported([{ kind, target: "primary", delayMs: 100 } as never], shared, stack);
      expect(why, kind).toMatch(new RegExp(`^the ${kind} fault .* which the kube platform does not offer: it acts on the pod's link \\(eth0\\).*come by port-forward, which enters the pod on its loopback.*use kind or minikube`));
    }
    expect(contextFaultSemantics({ allowNodeFaults: false }).partition).toMatch(/network agent: an ephemeral container \(pgchaos-net, NET_ADMIN/);
    expect(contextFaultSemantics({ allowNodeFaults: false }).partition).toMatch(/container runtime's connections \(uid 0\) to PostgreSQL on the pod's loopback; node probes go through the agent's relay/);
  });

  it("drains a node only with --allow-node-faults, and never powers one off", () => {
    const drain = [{ kind: "drain", target: "primary" } as never];
    expect(unsupported(drain, shared, stack)).toEqual([expect.stringMatching(/needs "node-drain".*pass --allow-node-faults to allow it on this cluster/)]);
    expect(unsupported(drain, allowed, stack)).toEqual([]);
    const fail = [{ kind: "node-failure", target: "primary" } as never];
    expect(unsupported(fail, shared, stack)).toEqual([expect.stringMatching(/never without --allow-node-faults.*cannot power a node off there yet/)]);
    expect(unsupported(fail, allowed, stack)).toEqual([expect.stringMatching(/--allow-node-faults or not/)]);
    // The local, kind and minikube platforms offer the drain as before.
    for (const p of ["local", "kind", "minikube"]) expect(unsupported(drain, getPlatform(p), stack), p).toEqual([]);
  });

  it("records what stop and drain are there: no cordon without --allow-node-faults", () => {
    expect(contextFaultSemantics({ allowNodeFaults: false }).stop).toMatch(/eviction of the member's pod .*its node is not cordoned/);
    expect(contextFaultSemantics({ allowNodeFaults: false }).drain).toBeUndefined();
    expect(contextFaultSemantics({ allowNodeFaults: true }).drain).toMatch(/^cordon of the member's node/);
    expect(contextFaultSemantics({ allowNodeFaults: false }).clients).toMatch(/port-forward/);
  });

  it("is registered, lazily, and reads --allow-node-faults at each look", () => {
    expect(PLATFORM_NAMES).toContain("kube");
    const env = process.env.PGCHAOS_KUBE_ALLOW_NODE_FAULTS;
    try {
      delete process.env.PGCHAOS_KUBE_ALLOW_NODE_FAULTS;
      expect(getPlatform("kube").capabilities.has("node-drain")).toBe(false);
      process.env.PGCHAOS_KUBE_ALLOW_NODE_FAULTS = "1";
      expect(getPlatform("kube").capabilities.has("node-drain")).toBe(true);
      expect(getPlatform("kube").capabilities.has("node-failure")).toBe(false);
    } finally {
      if (env === undefined) delete process.env.PGCHAOS_KUBE_ALLOW_NODE_FAULTS;
      else process.env.PGCHAOS_KUBE_ALLOW_NODE_FAULTS = env;
    }
    expect(makeContextPlatform({}).capabilities.has("partition")).toBe(true);
    expect(makeContextPlatform({}).capabilities.has("link-down")).toBe(false);
  });
});

describe("the kube platform's options and preflight", () => {
  let dir: string;
  let closedPort: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pgchaos-kube-"));
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    closedPort = (s.address() as { port: number }).port;
    await new Promise((r) => s.close(r));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const kubeconfig = (server: string) =>
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${server}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: shared\n  context:\n    cluster: c\n    user: u\ncurrent-context: shared\n`;

  it("takes them from the environment the CLI sets", () => {
    expect(contextEnvOptions({ PGCHAOS_KUBE_CONTEXT: "prod", PGCHAOS_KUBE_NAMESPACE: "team-a", PGCHAOS_KUBE_ALLOW_NODE_FAULTS: "1", PGCHAOS_KUBE_IMAGE: IMAGE })).toEqual({
      context: "prod",
      namespace: "team-a",
      allowNodeFaults: true,
      image: IMAGE,
    });
    expect(contextEnvOptions({})).toEqual({ context: undefined, namespace: undefined, allowNodeFaults: false, image: undefined });
  });

  it("needs a context, a namespace name that is one, and an image the nodes can pull", () => {
    expect(contextOptionProblems({ context: "prod", allowNodeFaults: false, image: IMAGE })).toEqual([]);
    const p = contextOptionProblems({ allowNodeFaults: false, namespace: "Team_A" });
    expect(p).toEqual([
      expect.stringMatching(/needs --context NAME/),
      expect.stringMatching(/--namespace "Team_A" is not a namespace name/),
      expect.stringMatching(/cannot load an image into the cluster's nodes .*push it to a registry the nodes pull from with `npm run image -- \[--stack NAME\] --push .*and set PGCHAOS_KUBE_IMAGE/),
    ]);
    expect(contextOptionProblems({ context: "prod", allowNodeFaults: false, image: "registry.example.com/patroni:latest" })).toEqual([expect.stringMatching(/^PGCHAOS_KUBE_IMAGE: .*not pinned/)]);
  });

  it("exits within seconds naming the context when it is unknown or its API server does not answer", async () => {
    const path = join(dir, "config");
    writeFileSync(path, kubeconfig(`https://127.0.0.1:${closedPort}`));
    const unknown = contextPreflight({ context: "prod-eks", kubeconfig: path, allowNodeFaults: false, image: IMAGE });
    await expect(unknown).rejects.toBeInstanceOf(EnvironmentError);
    await expect(unknown).rejects.toThrow(/^the kube platform cannot run on context "prod-eks":\n {2}- context "prod-eks" is not in the kubeconfig .*its contexts are "shared"/);
    const t0 = performance.now();
    await expect(contextPreflight({ context: "shared", kubeconfig: path, allowNodeFaults: false, image: IMAGE })).rejects.toThrow(
      `the kube platform cannot run on context "shared":\n  - the API server of context "shared" (https://127.0.0.1:${closedPort}) does not answer: connection refused (nothing listens there)`,
    );
    expect(performance.now() - t0).toBeLessThan(6000);
  });

  it("counts the nodes that can take a member, one per node, and waits for none on someone's cluster", () => {
    const node = (name: string, o: { ready?: boolean; cp?: boolean; taint?: "NoSchedule" | "PreferNoSchedule"; cordoned?: boolean } = {}): V1Node => ({
      metadata: { name, labels: o.cp ? { "node-role.kubernetes.io/control-plane": "" } : {} },
      spec: { unschedulable: o.cordoned, taints: o.taint ? [{ key: "dedicated", value: "gpu", effect: o.taint }] : [] },
      status: { conditions: [{ type: "Ready", status: o.ready === false ? "Unknown" : "True" }] },
    });
    const gke = [node("gke-a"), node("gke-b"), node("gke-c", { taint: "PreferNoSchedule" })];
    expect(contextNodeProblem("gke", gke, 3)).toBeUndefined();
    const mixed = [node("a"), node("b", { ready: false }), node("c", { taint: "NoSchedule" }), node("d", { cordoned: true }), node("cp", { cp: true })];
    expect(contextNodeProblem("k3s", mixed, 3)).toBe(
      'context "k3s": 1 of 5 nodes can take a member (Ready, schedulable, without NoSchedule taints, not a control plane), and the run places 3 members one per node',
    );
  });

  it("stops at once when the nodes cannot pull the image", () => {
    const pod = (reason: string): V1Pod => ({
      metadata: { name: "pg-0" },
      status: { phase: "Pending", containerStatuses: [{ name: "patroni", image: IMAGE, imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message: "rpc error: not found" } } }] },
    });
    expect(imagePullProblem([pod("ContainerCreating")])).toBeUndefined();
    expect(imagePullProblem([pod("ImagePullBackOff")])).toMatch(/^pod pg-0 cannot start: ImagePullBackOff \(rpc error: not found\)\. The cluster's nodes cannot pull registry\.example\.com.*PGCHAOS_KUBE_IMAGE/);
  });

  it("never deletes a cluster, and neither loads an image nor needs node containers", async () => {
    const r = contextRuntime({ context: "prod", allowNodeFaults: false, members: 3, image: IMAGE });
    expect(r.platform).toBe("kube");
    expect(r.nodeContainer).toBeUndefined();
    expect(r.cordonNodes).toBe(false);
    expect(r.portForward).toBeTypeOf("function");
    await expect(r.deleteCluster(pino({ level: "silent" }))).rejects.toThrow(/never deletes a cluster/);
    await expect(r.loadImage(IMAGE, pino({ level: "silent" }))).resolves.toBeUndefined();
    expect(r.buildImage).toBeUndefined();
  });
});

describe("a namespace of the user's (--namespace)", () => {
  it("is refused when it holds a pgchaos cluster already", () => {
    expect(namespaceClaimProblem("team-a", "pg", { pods: [], configMaps: [] })).toBeUndefined();
    expect(namespaceClaimProblem("team-a", "pg", { pods: ["pg-0"], configMaps: ["pg-leader", "pg-config"] })).toMatch(
      /^namespace team-a already holds a pgchaos cluster \(pod pg-0, ConfigMap pg-leader, ConfigMap pg-config, labelled application=pgchaos,cluster-name=pg\)/,
    );
    // Another run's mark alone (a run killed before its pods existed): cleaning that run up deletes the scope's ConfigMaps.
    expect(namespaceClaimProblem("team-a", "pg", { pods: [], configMaps: [], marks: ["pgchaos-run-ab12"] })).toMatch(
      /already holds a pgchaos cluster \(ConfigMap pgchaos-run-ab12 \(a run's mark\).*`--cleanup --platform kube --context NAME --namespace NS` removes a crashed run's/,
    );
  });

  it("loses only the run's objects at teardown: every selector names the run or Patroni's scope, none the namespace", () => {
    const plan = runObjectsPlan("ab12cd34", "pg");
    expect(plan.map((s) => s.kind)).toEqual(["StatefulSet", "PodDisruptionBudget", "Service", "PersistentVolumeClaim", "ConfigMap", "ConfigMap", "Secret", "RoleBinding", "Role", "ServiceAccount", "ConfigMap"]);
    for (const s of plan) expect([`${MARKS.run}=ab12cd34`, "application=pgchaos,cluster-name=pg", `${MARKS.runMark}=ab12cd34`], s.kind).toContain(s.labelSelector);
    // The run's mark goes last: what a teardown that fails halfway leaves stays marked for --cleanup.
    expect(plan.at(-1)!.labelSelector).toBe(`${MARKS.runMark}=ab12cd34`);
    expect(plan.some((s) => s.kind === "Namespace")).toBe(false);
  });
});

describe("deleting a run's objects in a namespace of the user's", () => {
  /**
   * A stand-in API that deletes as Kubernetes does in the foreground: an object asked to go stays listed, marked, for
   * `lingers` more lists (the garbage collector removing what it owns), the StatefulSet's pods as long.
   */
  function foregroundApi(runId: string, lingers: number) {
    const run = `${MARKS.run}=${runId}`;
    type Obj = { kind: string; name: string; selector: string; listsLeft?: number };
    const objects: Obj[] = [
      { kind: "StatefulSet", name: "pg", selector: run },
      { kind: "Service", name: "pg", selector: run },
      { kind: "Service", name: "pg-0-direct", selector: run },
      { kind: "ConfigMap", name: "pg-leader", selector: "application=pgchaos,cluster-name=pg" },
      { kind: "ConfigMap", name: "users-settings", selector: "team=a" },
      { kind: "ConfigMap", name: `pgchaos-run-${runId}`, selector: `${MARKS.runMark}=${runId}` },
    ];
    const pods = [{ name: "pg-0" }, { name: "pg-1" }];
    const events: string[] = [];
    const tick = (o: Obj) => o.listsLeft === undefined || o.listsLeft-- > 0;
    const objectsApi = {
      async list(_apiVersion: string, kind: string, _ns: string, ...rest: unknown[]) {
        const selector = rest[4] as string;
        const items = objects.filter((o) => o.kind === kind && o.selector === selector && tick(o));
        for (const o of objects.filter((o) => o.listsLeft !== undefined && o.listsLeft < 0)) objects.splice(objects.indexOf(o), 1);
        return { items: items.map((o) => ({ metadata: { name: o.name } })) };
      },
      async delete(obj: { kind: string; metadata: { name: string } }, ...rest: unknown[]) {
        const o = objects.find((x) => x.kind === obj.kind && x.name === obj.metadata.name);
        if (!o) throw Object.assign(new Error("not found"), { code: 404 });
        events.push(`delete ${o.kind} ${o.name} (${String(rest[4])}), ${objects.filter((x) => x.listsLeft === undefined && x !== o && x.selector !== "team=a").length} others not yet asked to go`);
        // What owns nothing (a ConfigMap, a Secret) goes at once; a StatefulSet or a Service waits for the garbage collector.
        o.listsLeft ??= o.kind === "StatefulSet" || o.kind === "Service" ? lingers : 0;
      },
    };
    // Lists of the pods left once their StatefulSet was asked to go.
    let podLists = 0;
    const core = {
      async listNamespacedPod() {
        const asked = !objects.some((o) => o.kind === "StatefulSet" && o.listsLeft === undefined);
        return { items: asked && podLists++ >= lingers ? [] : pods.map((p) => ({ metadata: p })) };
      },
    };
    const left = () => objects.filter((o) => o.selector !== "team=a").map((o) => `${o.kind} ${o.name}`);
    /** An object written (back) by someone else: not asked to go. */
    const write = (kind: string, name: string, selector: string) => objects.push({ kind, name, selector });
    /** Present and not asked to go. */
    const has = (kind: string, name: string) => objects.some((o) => o.kind === kind && o.name === name && o.listsLeft === undefined);
    const podsRunning = () => podLists < lingers;
    return { c: { core, objects: objectsApi } as unknown as KubeClients, events, left, write, has, podsRunning, all: () => objects.map((o) => `${o.kind} ${o.name}`) };
  }

  it("deletes again what comes back while the pods still run (Patroni writing its leader ConfigMap)", async () => {
    const api = foregroundApi("ab12", 3);
    const objects = api.c.objects as unknown as { list: (...a: unknown[]) => Promise<{ items: unknown[] }> };
    const list = objects.list.bind(objects);
    let asked = false;
    let rewritten = false;
    // Once pg-leader has been asked to go and is gone, Patroni, still running, writes it back, once.
    objects.list = async (...a) => {
      asked ||= api.events.some((e) => e.startsWith("delete ConfigMap pg-leader"));
      if (asked && !rewritten && !api.has("ConfigMap", "pg-leader") && api.podsRunning()) {
        api.write("ConfigMap", "pg-leader", "application=pgchaos,cluster-name=pg");
        rewritten = true;
      }
      return list(...a);
    };
    await deleteRunObjects(api.c, "team-a", "ab12");
    expect(rewritten).toBe(true);
    expect(api.events.filter((e) => e.startsWith("delete ConfigMap pg-leader"))).toHaveLength(2);
    expect(api.all()).toEqual(["ConfigMap users-settings"]);
  }, 30_000);

  it("returns once the objects are gone, not only asked to go, and deletes the run's mark after all the rest", async () => {
    const api = foregroundApi("ab12", 2);
    await deleteRunObjects(api.c, "team-a", "ab12");
    expect(api.left()).toEqual([]);
    // The user's ConfigMap is untouched.
    expect(api.all()).toEqual(["ConfigMap users-settings"]);
    // Foreground deletion throughout; the mark last, when nothing else of the run was left to ask.
    expect(api.events.every((e) => e.includes("(Foreground)"))).toBe(true);
    expect(api.events.at(-1)).toMatch(/^delete ConfigMap pgchaos-run-ab12 \(Foreground\), 0 others not yet asked to go$/);
  }, 30_000);
});

/** A stand-in API for a cluster reached by context: one member pod, its node shared with others. */
function standIn(namespace: string) {
  const log: string[] = [];
  const pod: V1Pod = {
    metadata: { name: "pg-1", namespace, uid: "u1", ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "pg", uid: "s", controller: true }] },
    spec: { nodeName: "gke-pool-1-abc", containers: [] },
    status: { phase: "Running", podIP: "10.8.2.7" },
  };
  let gone = false;
  const core = {
    async listNamespacedPod() {
      return { items: gone ? [] : [structuredClone(pod)] };
    },
    async readNamespacedPod() {
      if (gone) throw Object.assign(new Error("not found"), { code: 404 });
      return structuredClone(pod);
    },
    async readNamespacedConfigMap() {
      throw Object.assign(new Error("not found"), { code: 404 });
    },
    async createNamespacedPodEviction({ name }: { name: string }) {
      log.push(`evict ${name}`);
      gone = true;
      return {};
    },
    async readNode() {
      log.push("readNode");
      return { metadata: { annotations: {} } };
    },
    async patchNode({ name }: { name: string }) {
      log.push(`patchNode ${name}`);
      return {};
    },
    async deleteNamespace({ name }: { name: string }) {
      log.push(`deleteNamespace ${name}`);
      return {};
    },
    async readNamespacedPodLog() {
      throw new Error("no logs");
    },
    async listNamespacedEvent() {
      return { items: [] };
    },
  };
  const listed: Record<string, string[]> = { StatefulSet: ["pg"], Service: ["pg", "pg-primary"], ConfigMap: ["pg-patroni-yml"], Secret: ["pg-credentials"] };
  const deleted = new Set<string>();
  const objects = {
    async list(apiVersion: string, kind: string, ns: string, _p: unknown, _e: unknown, _x: unknown, _f: unknown, labelSelector: string) {
      log.push(`list ${kind} ${ns} ${labelSelector}`);
      // The run's mark (its own selector) is the one ConfigMap of that name.
      const names = kind === "ConfigMap" && labelSelector.startsWith(`${MARKS.runMark}=`) ? [`pgchaos-run-${labelSelector.split("=")[1]}`] : (listed[kind] ?? []);
      return { items: names.filter((name) => !deleted.has(`${kind} ${name}`)).map((name) => ({ metadata: { name } })) };
    },
    async delete(o: { kind: string; metadata: { name: string; namespace: string } }) {
      log.push(`delete ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);
      deleted.add(`${o.kind} ${o.metadata.name}`);
      return {};
    },
  };
  const exec: PodExec = async (node, argv): Promise<ExecResult> => {
    log.push(`exec ${node} ${argv.join(" ")}`);
    return { exitCode: 0, stdout: "", stderr: "" };
  };
  return { log, clients: { core, objects } as unknown as KubeClients, exec };
}

/** The stand-in clusters' run folder (a teardown copies logs there), removed after the file's tests. */
const contextRunDir = mkdtempSync(join(tmpdir(), "pgchaos-kube-context-test-"));
afterAll(() => rmSync(contextRunDir, { recursive: true, force: true }));

function contextCluster(s: ReturnType<typeof standIn>, namespace?: string, extra: Partial<ClusterSpec> = {}): KubeCluster {
  const spec: ClusterSpec = { name: "t", nodes: 3, profile: getProfile("fast"), runDir: contextRunDir, logger: pino({ level: "silent" }), ...extra };
  const runtime: KubeRuntime = { ...contextRuntime({ context: "gke", allowNodeFaults: false, members: 3, namespace, image: IMAGE }) };
  const noDocker = async () => {
    throw new Error("docker must not be called on the kube platform");
  };
  return new KubeCluster(spec, "ab12cd34", runtime, s.clients, false, "127.0.0.1", { superuser: "s", replication: "r", rewind: "w" }, TEST_IMAGE, testStack(), s.exec, noDocker);
}

describe("the cluster on a cluster reached by context", () => {
  it("stops a member by evicting its pod alone: the shared node is not cordoned", async () => {
    const s = standIn("pgchaos-ab12cd34");
    const c = contextCluster(s);
    await c.stopNode("pg-1");
    expect(s.log.filter((l) => !l.startsWith("list"))).toEqual(["evict pg-1"]);
    expect(s.log.some((l) => l.startsWith("patchNode"))).toBe(false);
    expect(c.isNodeRunning("pg-1")).toBe(false);
  });

  it("refuses what needs the nodes, saying why, and never calls docker", async () => {
    const c = contextCluster(standIn("pgchaos-ab12cd34"));
    await expect(c.failHost("pg-1")).rejects.toThrow(/the kube platform does not enter the cluster's nodes/);
    await expect(c.iptables("pg-1", ["-A", "INPUT", "-j", "DROP"])).rejects.toThrow(/entering the network namespace of pg-1: the kube platform does not enter the cluster's nodes/);
    expect(() => c.partitionRules({ cut: [] } as never)).toThrow(/a partition: the kube platform does not enter/);
    expect(await c.clearRules()).toBe(0);
    expect(await c.listRules()).toEqual([]);
    expect(await c.latencyUnsupported()).toMatch(/added latency/);
    await expect(c.prepareNodeNetworks()).resolves.toBeUndefined();
  });

  it("with network faults, adds its agent to a pod once, runs rules in the agent's container, and clears only where the agent runs", async () => {
    const s = standIn("pgchaos-ab12cd34");
    const core = s.clients.core as unknown as Record<string, unknown>;
    const execs: string[] = [];
    const calls: string[] = [];
    let agentPod: V1Pod | undefined;
    let conflicts = 1;
    const read = core.readNamespacedPod as () => Promise<V1Pod>;
    // pg-1 as the API server keeps it (its agent runs from the first read after it was added); pg-0 is gone; pg-2 never had an agent.
    core.readNamespacedPod = async ({ name }: { name: string }) => {
      if (name === "pg-0") throw Object.assign(new Error("not found"), { code: 404 });
      if (name === "pg-2") return { ...(await read()), metadata: { name: "pg-2", uid: "u2" } };
      return agentPod ? structuredClone(agentPod) : read();
    };
    core.replaceNamespacedPodEphemeralcontainers = async ({ body }: { body: V1Pod }) => {
      calls.push(`replace ${body.metadata?.name}`);
      // Patroni patched the pod since it was read: the API server refuses the stale resourceVersion once.
      if (conflicts-- > 0) throw Object.assign(new Error("conflict"), { code: 409 });
      agentPod = { ...body, status: { ...body.status, ephemeralContainerStatuses: [{ name: "pgchaos-net", image: "", imageID: "", ready: false, restartCount: 0, state: { running: {} } }] } };
      return body;
    };
    const exec: PodExec = async (node, argv, _ms, container) => {
      execs.push(`${container ?? "postgres"} ${node} ${argv.join(" ")}`);
      return { exitCode: 0, stdout: argv.includes("-S") ? "-P INPUT ACCEPT\n-A INPUT -s 10.8.2.9/32 -m comment --comment pgchaos-ab12cd34 -j DROP\n" : "", stderr: "" };
    };
    const c = contextCluster({ ...s, exec }, undefined, { networkFaults: true });
    await c.iptablesBatch("pg-1", [["-A", "INPUT", "-s", "10.8.2.9", "-m", "comment", "--comment", "pgchaos-ab12cd34", "-j", "DROP"]]);
    await c.iptables("pg-1", ["-A", "INPUT", "-s", "10.8.2.8", "-j", "DROP"]);
    expect(calls).toEqual(["replace pg-1", "replace pg-1"]);
    expect(agentPod?.spec?.ephemeralContainers?.map((x) => x.name)).toEqual(["pgchaos-net"]);
    expect(execs).toEqual([
      "pgchaos-net pg-1 sh -c printf \"%s\\n\" \"$@\" | iptables-restore -w --noflush sh *filter -A INPUT -s 10.8.2.9 -m comment --comment pgchaos-ab12cd34 -j DROP COMMIT",
      "pgchaos-net pg-1 iptables -w -A INPUT -s 10.8.2.8 -j DROP",
    ]);
    execs.length = 0;
    // pg-1's tagged rule is deleted there, by its agent, in one commit; pg-0 (gone) and pg-2 (no agent) hold none.
    expect(await c.clearRules()).toBe(1);
    expect(execs).toEqual([
      "pgchaos-net pg-1 iptables -w -S",
      "pgchaos-net pg-1 sh -c printf \"%s\\n\" \"$@\" | iptables-restore -w --noflush sh *filter -D INPUT -s 10.8.2.9/32 -m comment --comment pgchaos-ab12cd34 -j DROP COMMIT",
    ]);
    // An agent that ended leaves its pod's rules out of reach: the heal says so instead of passing for clean.
    agentPod = { ...agentPod!, status: { ephemeralContainerStatuses: [{ name: "pgchaos-net", image: "", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: "OOMKilled" } } }] } };
    await expect(c.clearRules("pg-1")).rejects.toThrow(/network agent of pod pg-1 is not running \(exit 137 \(OOMKilled\)\): rules it added stay until the pod is deleted/);
    // Without network faults in the scenario, no agent, and the refusal says so.
    const plain = contextCluster(standIn("pgchaos-ab12cd34"));
    await expect(plain.iptables("pg-1", ["-A", "INPUT", "-j", "DROP"])).rejects.toThrow(/this run added no network agent to its pods/);
  });

  it("learns the API server's address from a pod's environment when the default namespace is not readable (a user with one namespace)", async () => {
    const s = standIn("team-a");
    const core = s.clients.core as unknown as Record<string, unknown>;
    core.readNamespacedService = async () => {
      throw new ApiException(403, "forbidden", JSON.stringify({ message: 'services "kubernetes" is forbidden: User "alice" cannot get resource "services" in the namespace "default"' }), {});
    };
    let agent: V1Pod | undefined;
    const read = core.readNamespacedPod as () => Promise<V1Pod>;
    core.readNamespacedPod = async () => agent ?? read();
    core.replaceNamespacedPodEphemeralcontainers = async ({ body }: { body: V1Pod }) => {
      agent = { ...body, status: { ephemeralContainerStatuses: [{ name: "pgchaos-net", image: "", imageID: "", ready: false, restartCount: 0, state: { running: {} } }] } };
      return body;
    };
    const exec: PodExec = async (_node, argv, _ms, container) => ({ exitCode: 0, stdout: container === "pgchaos-net" && argv[0] === "sh" ? "10.43.0.1 443\n" : "", stderr: "" });
    const c = contextCluster({ ...s, exec }, "team-a", { networkFaults: true, nodes: 1 });
    await c.prepareNodeNetworks();
    const rules = c.dcsCutRules(["pg-0"]);
    expect(rules.map((r) => r.args.join(" "))).toEqual(["-A OUTPUT -d 10.43.0.1 -p tcp --dport 443 -m comment --comment pgchaos-ab12cd34 -j DROP"]);
  });

  it("says what the agent needs when RBAC or Pod Security refuses it, as an error of the environment (exit 2)", async () => {
    const s = standIn("pgchaos-ab12cd34");
    (s.clients.core as unknown as Record<string, unknown>).replaceNamespacedPodEphemeralcontainers = async () => {
      const body = JSON.stringify({ message: 'pods "pg-1" is forbidden: violates PodSecurity "baseline:latest": non-default capabilities (container "pgchaos-net" must not include "NET_ADMIN")' });
      throw new ApiException(403, "forbidden", body, {});
    };
    const c = contextCluster(s, undefined, { networkFaults: true });
    const e = await c.iptables("pg-1", ["-A", "INPUT", "-j", "DROP"]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EnvironmentError);
    expect((e as Error).message).toMatch(/cannot add the network agent \(ephemeral container pgchaos-net, NET_ADMIN\) to pod pg-1 .*violates PodSecurity.*pods\/ephemeralcontainers.*privileged/);
  });

  it("kills a member as on kind: SIGKILL of every process in its pod, then the pod's deletion", async () => {
    const s = standIn("pgchaos-ab12cd34");
    const core = s.clients.core as unknown as Record<string, unknown>;
    core.deleteNamespacedPod = async ({ name }: { name: string }) => s.log.push(`delete pod ${name}`);
    await contextCluster(s).killNode("pg-1");
    expect(s.log).toEqual(["exec pg-1 sh -c kill -9 -1", "delete pod pg-1"]);
  });

  it("records the faults as they are there, and the namespace it runs in", () => {
    const c = contextCluster(standIn("team-a"), "team-a");
    expect(c.namespace).toBe("team-a");
    expect(c.settings.namespace).toBe("team-a");
    expect((c.settings.faultsOnKubernetes as Record<string, string>).stop).toMatch(/not cordoned/);
    expect(contextCluster(standIn("x")).namespace).toBe("pgchaos-ab12cd34");
  });

  it("in a namespace of the user's, deletes the run's objects one by one and never the namespace", async () => {
    const s = standIn("team-a");
    const c = contextCluster(s, "team-a");
    (s.clients.core as unknown as { listNamespacedPod: () => Promise<{ items: unknown[] }> }).listNamespacedPod = async () => ({ items: [] });
    await c.teardown();
    expect(s.log.some((l) => l.startsWith("deleteNamespace"))).toBe(false);
    expect(s.log.filter((l) => l.startsWith("delete "))).toEqual([
      "delete StatefulSet team-a/pg",
      "delete Service team-a/pg",
      "delete Service team-a/pg-primary",
      "delete ConfigMap team-a/pg-patroni-yml",
      "delete Secret team-a/pg-credentials",
      "delete ConfigMap team-a/pgchaos-run-ab12cd34",
    ]);
    for (const l of s.log.filter((x) => x.startsWith("list "))) expect(l).toMatch(/ team-a (pgchaos\.io\/run=ab12cd34|application=pgchaos,cluster-name=pg|pgchaos\.io\/run-mark=ab12cd34)$/);
  });
});

describe("reaching members by port-forward", () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const x of servers) await new Promise((r) => x.close(r));
  });

  /** A "pod" that answers with its name, as PostgreSQL would answer the member that holds the connection. */
  async function podServer(name: string): Promise<number> {
    const srv = createServer((sock) => {
      sock.on("data", () => sock.end(name));
      sock.on("error", () => undefined);
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    return (srv.address() as { port: number }).port;
  }

  it("serves the leader Service and each member on loopback, credits loopback answers to the pod that gave them, and runs node probes here", async () => {
    const s = standIn("pgchaos-ab12cd34");
    const ports: Record<string, number> = { "pg-0": await podServer("pg-0"), "pg-1": await podServer("pg-1"), "pg-2": await podServer("pg-2") };
    let leader = "pg-1";
    (s.clients as unknown as { discovery: unknown }).discovery = {
      async listNamespacedEndpointSlice({ labelSelector }: { labelSelector: string }) {
        expect(labelSelector).toBe("kubernetes.io/service-name=pg-primary");
        return { items: [{ endpoints: [{ addresses: ["10.8.2.7"], conditions: { ready: true }, targetRef: { kind: "Pod", name: leader } }] }] };
      },
    };
    const forwarded: string[] = [];
    const forward: PodForward = async (ns, pod, port, io) => {
      forwarded.push(`${ns}/${pod}:${port}`);
      const up = connect({ host: "127.0.0.1", port: ports[pod]! });
      io.input.pipe(up);
      up.pipe(io.output);
      return { close: () => up.destroy(), closed: new Promise<void>((r) => up.once("close", () => r())) };
    };
    const c = contextCluster(s);
    await (c as unknown as { openForwards(f: PodForward): Promise<void> }).openForwards(forward);
    const ask = (port: number) =>
      new Promise<string>((resolve) => {
        const sock = connect({ host: "127.0.0.1", port }, () => sock.write("?"));
        let got = "";
        sock.on("data", (d) => (got += d.toString()));
        sock.on("close", () => resolve(got));
      });
    try {
      expect(c.primaryService.host).toBe("127.0.0.1");
      expect(await ask(c.primaryService.port)).toBe("pg-1");
      // PostgreSQL says 127.0.0.1 through a port-forward: the write is the member's that answered.
      expect(c.nodeOfAddress("127.0.0.1")).toBe("pg-1");
      leader = "pg-2";
      expect(await ask(c.primaryService.port)).toBe("pg-2");
      expect(c.nodeOfAddress("127.0.0.1")).toBe("pg-2");
      expect(await ask(c.endpoint("pg-0").port)).toBe("pg-0");
      expect(forwarded).toEqual(["pgchaos-ab12cd34/pg-1:5432", "pgchaos-ab12cd34/pg-2:5432", "pgchaos-ab12cd34/pg-0:5432"]);
      // The node probe runs on this host, aimed at its member's listener, marked with the run.
      const ep = c.endpoint("pg-2");
      const child = c.runInNodeNetwork("pg-2", ["sh", "-c", 'echo "$PGHOST:$PGPORT $1"', "sh"], { PGHOST: ep.host, PGPORT: String(ep.port) });
      let out = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      await new Promise((r) => child.once("exit", r));
      expect(out.trim()).toBe(`127.0.0.1:${ep.port} --pgchaos-run=pgchaos-ab12cd34`);
    } finally {
      await (c as unknown as { closeForwards(): Promise<void> }).closeForwards();
    }
  });
});
