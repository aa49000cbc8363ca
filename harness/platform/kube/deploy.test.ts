/**
 * KubeCluster.deploy against an in-memory Kubernetes with its controllers (fake-kube.ts): what a deploy creates and in
 * which order, what it waits for, and that a bring-up that fails or is interrupted leaves nothing of the run's behind.
 * The fake's Patroni never takes the leader lock (the fake runs no PostgreSQL): a ready cluster is the kube tier's
 * business, on a real API server (.ci/run). Nothing here reaches a cluster.
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { getProfile } from "../../stack/patroni/profiles.ts";
import { EnvironmentError } from "../../util/errors.ts";
import type { ClusterSpec } from "../types.ts";
import type { PodForward } from "../forward.ts";
import { KubeCluster, type KubeRuntime } from "./cluster.ts";
import { PatchStrategy } from "@kubernetes/client-node";
import { FakeKube, KIND_LIKE_NODES, type ExecHandler } from "./fake-kube.ts";
import { applyOrder, CONTROL_PLANE_LABEL, patroniLabels, renderManifests } from "./manifests.ts";
import { TEST_IMAGE, testStack } from "./test-stack.ts";

const runDirs = mkdtempSync(join(tmpdir(), "pgchaos-kube-deploy-test-"));
afterAll(() => rmSync(runDirs, { recursive: true, force: true }));

const stack = testStack("patroni@4.0.7");
const PASSWORDS = { superuser: "superuser-secret", replication: "replication-secret", rewind: "rewind-secret-0" };
/** The pods' Patroni as the image carries it: it answers --version, and never takes the leader lock. */
const patroniExec: ExecHandler = (_pod, _container, argv) => (argv.join(" ") === "patroni --version" ? { stdout: `patroni ${stack.info.version}\n` } : { exitCode: 1, stderr: "not modelled" });

/** What Patroni writes while a member of the run runs, without leading: its scope's config and leader ConfigMaps. */
function patroniWrites(fake: FakeKube): void {
  for (const pod of fake.list("Pod", undefined, "application=pgchaos,cluster-name=pg").filter((p) => p.status?.phase === "Running")) {
    const namespace = pod.metadata!.namespace!;
    for (const name of ["pg-config", "pg-leader"]) {
      if (fake.list("ConfigMap", namespace).some((c) => c.metadata?.name === name)) continue;
      fake.write({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace, labels: patroniLabels("pg"), annotations: name === "pg-config" ? { config: "{}" } : {} } });
    }
  }
}

/** No PostgreSQL answers in the fake's pods: a connection through a listener is refused as a missing pod's is. */
const noPostgres: PodForward = async (_ns, pod) => {
  throw new Error(`pods "${pod}" has no PostgreSQL in the fake`);
};

function runtimeOn(fake: FakeKube, o: { created?: boolean; namespace?: string } = {}) {
  const calls: string[] = [];
  let exists = true;
  const runtime: KubeRuntime = {
    platform: "kube",
    ensureCluster: async () => ({ created: o.created ?? false, clients: fake.clients }),
    loadImage: async (image) => void calls.push(`load ${image}`),
    portForward: async () => noPostgres,
    cordonNodes: false,
    namespace: o.namespace,
    clusterExists: async () => exists,
    deleteCluster: async () => {
      calls.push("deleteCluster");
      exists = false;
    },
    existingClients: async () => (exists ? fake.clients : undefined),
  };
  return { runtime, calls };
}

function spec(name: string, extra: Partial<ClusterSpec> = {}): ClusterSpec {
  return { name, nodes: 3, profile: getProfile("fast"), runDir: join(runDirs, name), logger: pino({ level: "silent" }), stack, readyTimeoutMs: 4000, ...extra };
}

/** The run's namespace, as the fake saw it created. */
function runNamespace(fake: FakeKube): string {
  const ns = /^create Namespace (pgchaos-[0-9a-f]{8})$/.exec(fake.writes[0] ?? "")?.[1];
  if (!ns) throw new Error(`the first write was not the run's namespace: ${fake.writes[0]}`);
  return ns;
}

describe("a deploy on a fake Kubernetes", () => {
  it("creates the namespace, then what the pods need before the StatefulSet, releases each pod once created, one member per worker", async () => {
    const fake = new FakeKube({ exec: patroniExec, controllers: [patroniWrites] });
    const { runtime, calls } = runtimeOn(fake);
    const err = await KubeCluster.deploy(spec("order"), runtime, { image: TEST_IMAGE }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // The fake's Patroni never leads: the bring-up times out on exactly that.
    expect(err?.message).toMatch(/one leader/);
    const ns = runNamespace(fake);
    const applied = fake.writes.filter((w) => w.startsWith("apply ")).map((w) => w.replace(`${ns}/`, ""));
    const expected = applyOrder(renderManifests({ name: "pg", namespace: ns, replicas: 3, profile: getProfile("fast"), image: TEST_IMAGE, leaderLabelValue: "primary", passwords: PASSWORDS, runId: "ab12" }));
    expect(applied).toEqual(expected.map((o) => `apply ${o.kind} ${o.metadata?.name}`));
    // Every object was accepted by the fake, whose API server validates against the OpenAPI schemas; the
    // StatefulSet made its pods at once (its ServiceAccount existed), and they started at once (their Secret and
    // ConfigMap existed): no FailedCreate, FailedMount or CreateContainerConfigError on the way.
    expect(fake.eventsIn(ns)).toEqual([]);
    expect(fake.writes).toContain(`create PersistentVolumeClaim ${ns}/pgdata-pg-0`);
    const podWrites = fake.writes.filter((w) => /Pod /.test(w)).map((w) => w.replace(`${ns}/`, ""));
    for (const p of ["pg-0", "pg-1", "pg-2"]) {
      expect(podWrites.indexOf(`create Pod ${p}`)).toBeLessThan(podWrites.indexOf(`release Pod ${p}`));
      expect(podWrites.indexOf(`release Pod ${p}`)).toBeLessThan(podWrites.findIndex((w) => w.startsWith(`schedule Pod ${p} on`)));
    }
    const placed = podWrites.filter((w) => w.startsWith("schedule")).map((w) => w.split(" on ")[1]).sort();
    expect(placed).toEqual(["w1", "w2", "w3"]);
    expect(calls).toEqual([`load ${TEST_IMAGE}`]);
    // The failed bring-up deleted the namespace and waited until it was gone; logs and manifests are in the run folder.
    expect(fake.writes).toContain(`delete Namespace ${ns}`);
    expect(fake.inventory()).toEqual([]);
    expect(readFileSync(join(runDirs, "order", "logs", "pg-0", "patroni.log"), "utf8")).toContain("log of patroni in pg-0");
    const manifests = readFileSync(join(runDirs, "order", "kube-manifests.yaml"), "utf8");
    expect(manifests).toContain("kind: StatefulSet");
    expect(manifests).not.toMatch(/password: [A-Za-z0-9_-]{20,}/);
  }, 30_000);

  it("stops at once, as an error of the environment, when the nodes cannot pull the image, and leaves nothing", async () => {
    const fake = new FakeKube({ exec: patroniExec, pullable: () => false });
    const { runtime } = runtimeOn(fake);
    const started = performance.now();
    const err = await KubeCluster.deploy(spec("pull", { readyTimeoutMs: 120_000 }), runtime, { image: TEST_IMAGE }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(err?.message).toMatch(/pod pg-\d cannot start: ImagePullBackOff \(Back-off pulling image/);
    expect(err?.message).toContain("PGCHAOS_KUBE_IMAGE");
    // Not the two minutes of the readiness timeout, nor the minute the first exec is retried for.
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(fake.inventory()).toEqual([]);
  }, 60_000);

  it("deletes the cluster it created when the bring-up fails, and nothing else", async () => {
    const fake = new FakeKube({ exec: patroniExec });
    const { runtime, calls } = runtimeOn(fake, { created: true });
    await expect(KubeCluster.deploy(spec("created"), runtime, { image: TEST_IMAGE })).rejects.toThrow(/one leader/);
    expect(calls).toEqual([`load ${TEST_IMAGE}`, "deleteCluster"]);
    expect(fake.writes.some((w) => w.startsWith("delete Namespace"))).toBe(false);
  }, 30_000);

  it("in a namespace of the user's, leaves the namespace and the user's objects, and takes the run's away (claims and Patroni's ConfigMaps too), its mark last", async () => {
    const fake = new FakeKube({ exec: patroniExec, controllers: [patroniWrites] });
    await fake.clients.core.createNamespace({ body: { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a" } } });
    await fake.clients.core.createNamespacedConfigMap({ namespace: "team-a", body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "users-settings", labels: { team: "a" } } } });
    const before = fake.writes.length;
    const { runtime } = runtimeOn(fake, { namespace: "team-a" });
    await expect(KubeCluster.deploy(spec("user-ns"), runtime, { image: TEST_IMAGE })).rejects.toThrow(/one leader/);
    expect(fake.inventory()).toEqual(["ConfigMap team-a/users-settings", "Namespace team-a"]);
    const writes = fake.writes.slice(before);
    // What was there to take away: the claims, and Patroni's ConfigMaps (written by Patroni, not applied by the run).
    expect(writes).toContain("create PersistentVolumeClaim team-a/pgdata-pg-2");
    expect(writes).toContain("write ConfigMap team-a/pg-config");
    // The claims went with their StatefulSet (its retention policy makes it their owner), not one by one.
    for (const p of ["pg-0", "pg-1", "pg-2"]) expect(writes).toContain(`gc PersistentVolumeClaim team-a/pgdata-${p}`);
    const mark = writes.find((w) => /^create ConfigMap team-a\/pgchaos-run-/.test(w));
    expect(mark, "the run marks the namespace before anything else").toBe(writes[0]);
    expect(writes.at(-1)).toBe(mark!.replace("create", "delete"));
    expect(writes.some((w) => w.startsWith("delete Namespace"))).toBe(false);
  }, 30_000);

  it("keeps members off a control plane that takes pods (minikube's is not tainted)", async () => {
    const untainted = [{ name: "cp", labels: { [CONTROL_PLANE_LABEL]: "" } }, ...KIND_LIKE_NODES.filter((n) => n.name !== "cp")];
    const fake = new FakeKube({ exec: patroniExec, nodes: untainted });
    const { runtime } = runtimeOn(fake);
    await expect(KubeCluster.deploy(spec("untainted"), runtime, { image: TEST_IMAGE })).rejects.toThrow(/one leader/);
    const placed = fake.writes.filter((w) => w.startsWith("schedule Pod")).map((w) => w.split(" on ")[1]).sort();
    expect(placed).toEqual(["w1", "w2", "w3"]);
  }, 30_000);

  it("is interrupted within seconds, and the interrupted bring-up leaves nothing", async () => {
    const fake = new FakeKube({ exec: patroniExec });
    const { runtime } = runtimeOn(fake);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("interrupted (SIGINT)")), 1500).unref();
    const started = performance.now();
    await expect(KubeCluster.deploy(spec("abort", { readyTimeoutMs: 120_000, signal: ac.signal }), runtime, { image: TEST_IMAGE })).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(fake.inventory()).toEqual([]);
  }, 60_000);
});

describe("the fake Kubernetes refuses what the API server and its controllers refuse", () => {
  const manifests = (ns: string) =>
    applyOrder(renderManifests({ name: "pg", namespace: ns, replicas: 3, profile: getProfile("fast"), image: TEST_IMAGE, leaderLabelValue: "primary", passwords: PASSWORDS, runId: "ab12" }));
  const apply = (fake: FakeKube, o: object) => fake.clients.objects.patch(o as never, undefined, undefined, "pgchaos", true, PatchStrategy.ServerSideApply);

  it("an object in a namespace that does not exist (404), one the OpenAPI schemas reject (422), a merge patch of what does not exist (404)", async () => {
    const fake = new FakeKube();
    await expect(apply(fake, manifests("nope")[0]!)).rejects.toMatchObject({ code: 404 });
    await fake.clients.core.createNamespace({ body: { metadata: { name: "ns" } } });
    await expect(fake.clients.objects.patch(manifests("ns")[0]! as never, undefined, undefined, "pgchaos", true)).rejects.toMatchObject({ code: 404 });
    await expect(apply(fake, { apiVersion: "v1", kind: "Service", metadata: { name: "s", namespace: "ns" }, spec: { ports: [{ port: "x" }] } })).rejects.toMatchObject({ code: 422 });
  });

  it("manifests applied in the wrong order: the StatefulSet before its ServiceAccount makes no pod, before its ConfigMap and Secret none starts", async () => {
    const fake = new FakeKube();
    await fake.clients.core.createNamespace({ body: { metadata: { name: "ns" } } });
    const all = manifests("ns");
    const sts = all.find((o) => o.kind === "StatefulSet")!;
    await apply(fake, sts);
    expect((await fake.clients.core.listNamespacedPod({ namespace: "ns" })).items).toEqual([]);
    expect(fake.eventsIn("ns").join("\n")).toMatch(/FailedCreate StatefulSet\/pg: .*serviceaccount "pg" not found/);
    await apply(fake, all.find((o) => o.kind === "ServiceAccount")!);
    const pods = async () => (await fake.clients.core.listNamespacedPod({ namespace: "ns" })).items;
    expect((await pods()).map((p) => p.metadata?.name)).toEqual(["pg-0", "pg-1", "pg-2"]);
    // Held by the StatefulSet's scheduling gate until released.
    expect((await pods()).every((p) => !p.spec?.nodeName)).toBe(true);
    for (const p of await pods()) {
      await fake.clients.core.patchNamespacedPod({ name: p.metadata!.name!, namespace: "ns", body: [{ op: "replace", path: "/spec/schedulingGates", value: [] }] });
    }
    const waiting = async () => (await pods()).map((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason);
    // Patroni's configuration, a ConfigMap volume, is not there yet: nothing is created in the pods.
    expect(await waiting()).toEqual(["ContainerCreating", "ContainerCreating", "ContainerCreating"]);
    expect(fake.eventsIn("ns").join("\n")).toMatch(/FailedMount Pod\/pg-0: .*configmap "pg-patroni-yml" not found/);
    await apply(fake, all.find((o) => o.kind === "ConfigMap")!);
    // Then the Secret the environment names is missing.
    expect(await waiting()).toEqual(["CreateContainerConfigError", "CreateContainerConfigError", "CreateContainerConfigError"]);
    await apply(fake, all.find((o) => o.kind === "Secret")!);
    expect((await pods()).map((p) => p.status?.phase)).toEqual(["Running", "Running", "Running"]);
  });
});
