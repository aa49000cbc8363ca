/**
 * `--attach`: members, roles and the primary Service of clusters as the Zalando operator (Spilo), Crunchy PGO v5
 * and CloudNativePG leave them in the API (the labels, annotations, Services and Endpoints each really sets,
 * with the neighbours they put beside the database pods: poolers, backup repositories, jobs), including a pod
 * with a stale role label and one with none; and the plan of what an attached run creates and never removes.
 */
import { describe, expect, it } from "vitest";
import { lockHolder } from "./targets.ts";
import {
  assertAttachAllows,
  attachedMembers,
  attachPlan,
  detectOperator,
  matchesSelector,
  operatorNamed,
  OPERATORS,
  parseAttachTarget,
  podsBehindService,
  primaryServiceOf,
  type EndpointsLike,
  type PodLike,
  type ServiceLike,
} from "./attach.ts";

const ready = (ip: string, node: string) => ({ phase: "Running", podIP: ip, conditions: [{ type: "Ready", status: "True" }] });
const patroniStatus = (role: string, ip: string, timeline = 2) =>
  JSON.stringify({ conn_url: `postgres://${ip}:5432/postgres`, api_url: `http://${ip}:8008/patroni`, state: "running", role, version: "4.0.4", xlog_location: 50331968, timeline });

// --- Zalando postgres-operator: acid-minimal-cluster (manifests/minimal-postgres-manifest.yaml), Spilo 17 -------
const spiloPod = (i: number, role: string | undefined, statusRole: string, ip: string): PodLike => ({
  metadata: {
    name: `acid-minimal-cluster-${i}`,
    labels: {
      application: "spilo",
      "cluster-name": "acid-minimal-cluster",
      team: "acid",
      ...(role ? { "spilo-role": role } : {}),
      "controller-revision-hash": "acid-minimal-cluster-7c9f6d8b5d",
      "statefulset.kubernetes.io/pod-name": `acid-minimal-cluster-${i}`,
      "apps.kubernetes.io/pod-index": String(i),
    },
    annotations: { status: patroniStatus(statusRole, ip) },
  },
  spec: { nodeName: `ip-10-0-${i}-17.eu-central-1.compute.internal` },
  status: ready(ip, `n${i}`),
});
const spiloPooler: PodLike = {
  metadata: {
    name: "acid-minimal-cluster-pooler-5b9f8d6c7d-q2w8x",
    labels: { application: "db-connection-pooler", "connection-pooler": "acid-minimal-cluster-pooler", "cluster-name": "acid-minimal-cluster", "spilo-role": "master" },
  },
  status: ready("10.244.3.9", "n3"),
};
const spiloServices: ServiceLike[] = [
  // The master Service has no selector: Patroni writes its Endpoints with the leader's address.
  { metadata: { name: "acid-minimal-cluster", labels: { application: "spilo", "cluster-name": "acid-minimal-cluster", "spilo-role": "master", team: "acid" } }, spec: { type: "ClusterIP", clusterIP: "10.100.41.7" } },
  {
    metadata: { name: "acid-minimal-cluster-repl", labels: { application: "spilo", "cluster-name": "acid-minimal-cluster", "spilo-role": "replica", team: "acid" } },
    spec: { type: "ClusterIP", clusterIP: "10.100.41.8", selector: { application: "spilo", "cluster-name": "acid-minimal-cluster", "spilo-role": "replica" } },
  },
  { metadata: { name: "acid-minimal-cluster-config", labels: { application: "spilo", "cluster-name": "acid-minimal-cluster" } }, spec: { clusterIP: "None" } },
];
const spiloLeaderEndpoints = (leader: string, ip: string): EndpointsLike => ({
  metadata: {
    name: "acid-minimal-cluster",
    annotations: { leader, optime: "50331968", renewTime: "2026-11-29T23:00:00.000000+00:00", ttl: "30", transitions: "1" },
  },
  subsets: [{ addresses: [{ ip }] }],
});

// --- Crunchy PGO v5: hippo (kustomize/postgres), instance set instance1 ---------------------------------------------
const pgoPod = (instance: string, role: string | undefined, statusRole: string, ip: string): PodLike => ({
  metadata: {
    name: `hippo-instance1-${instance}-0`,
    labels: {
      "postgres-operator.crunchydata.com/cluster": "hippo",
      "postgres-operator.crunchydata.com/data": "postgres",
      "postgres-operator.crunchydata.com/instance": `hippo-instance1-${instance}`,
      "postgres-operator.crunchydata.com/instance-set": "instance1",
      "postgres-operator.crunchydata.com/patroni": "hippo-ha",
      ...(role ? { "postgres-operator.crunchydata.com/role": role } : {}),
      "controller-revision-hash": `hippo-instance1-${instance}-5d9c9b8d6f`,
      "statefulset.kubernetes.io/pod-name": `hippo-instance1-${instance}-0`,
    },
    annotations: { status: patroniStatus(statusRole, ip) },
  },
  spec: { nodeName: `gke-pool-${instance}` },
  status: ready(ip, instance),
});
const pgoNeighbours: PodLike[] = [
  {
    metadata: {
      name: "hippo-repo-host-0",
      labels: {
        "postgres-operator.crunchydata.com/cluster": "hippo",
        "postgres-operator.crunchydata.com/pgbackrest": "",
        "postgres-operator.crunchydata.com/pgbackrest-dedicated": "",
        "postgres-operator.crunchydata.com/data": "pgbackrest",
      },
    },
    status: ready("10.244.2.40", "x"),
  },
  {
    metadata: {
      name: "hippo-backup-x9z2-abcde",
      labels: { "postgres-operator.crunchydata.com/cluster": "hippo", "postgres-operator.crunchydata.com/pgbackrest": "", "postgres-operator.crunchydata.com/pgbackrest-backup": "replica-create" },
    },
    status: { phase: "Succeeded", podIP: "10.244.2.41" },
  },
];
const pgoServices: ServiceLike[] = [
  // Headless and without a selector: its Endpoints hold the ClusterIP of hippo-ha.
  { metadata: { name: "hippo-primary", labels: { "postgres-operator.crunchydata.com/cluster": "hippo", "postgres-operator.crunchydata.com/role": "primary" } }, spec: { clusterIP: "None" } },
  // Patroni's leader Service (use_endpoints): Patroni writes its Endpoints with the leader's address.
  { metadata: { name: "hippo-ha", labels: { "postgres-operator.crunchydata.com/cluster": "hippo", "postgres-operator.crunchydata.com/patroni": "hippo-ha" } }, spec: { type: "ClusterIP", clusterIP: "10.96.12.34" } },
  { metadata: { name: "hippo-ha-config", labels: { "postgres-operator.crunchydata.com/cluster": "hippo" } }, spec: { clusterIP: "None" } },
  {
    metadata: { name: "hippo-replicas", labels: { "postgres-operator.crunchydata.com/cluster": "hippo", "postgres-operator.crunchydata.com/role": "replica" } },
    spec: { type: "ClusterIP", clusterIP: "10.96.12.35", selector: { "postgres-operator.crunchydata.com/cluster": "hippo", "postgres-operator.crunchydata.com/role": "replica" } },
  },
  { metadata: { name: "hippo-pods" }, spec: { clusterIP: "None", selector: { "postgres-operator.crunchydata.com/cluster": "hippo" } } },
];
const pgoEndpoints = (leader: string, leaderIp: string): EndpointsLike[] => [
  { metadata: { name: "hippo-primary" }, subsets: [{ addresses: [{ ip: "10.96.12.34" }] }] },
  { metadata: { name: "hippo-ha", annotations: { leader, renewTime: "2026-11-29T23:00:00.000000+00:00", ttl: "30" } }, subsets: [{ addresses: [{ ip: leaderIp }] }] },
];

// --- CloudNativePG: cluster-example (docs/src/samples/cluster-example.yaml), 3 instances -----------------------------
const cnpgPod = (i: number, role: string | undefined, ip: string, opts: { legacyOnly?: boolean } = {}): PodLike => ({
  metadata: {
    name: `cluster-example-${i}`,
    labels: {
      "cnpg.io/cluster": "cluster-example",
      "cnpg.io/instanceName": `cluster-example-${i}`,
      "cnpg.io/podRole": "instance",
      ...(role && !opts.legacyOnly ? { "cnpg.io/instanceRole": role } : {}),
      ...(role ? { role } : {}),
    },
    annotations: { "cnpg.io/operatorVersion": "1.27.0", "cnpg.io/podSpec": "{}" },
  },
  spec: { nodeName: `aks-nodepool1-${i}-vmss000000` },
  status: ready(ip, String(i)),
});
const cnpgNeighbours: PodLike[] = [
  { metadata: { name: "cluster-example-1-initdb-7xk2p", labels: { "cnpg.io/cluster": "cluster-example", "cnpg.io/jobRole": "initdb", "job-name": "cluster-example-1-initdb" } }, status: { phase: "Succeeded" } },
  { metadata: { name: "pooler-example-rw-6d9f5b7c4-x2x4z", labels: { "cnpg.io/cluster": "cluster-example", "cnpg.io/poolerName": "pooler-example-rw", "cnpg.io/podRole": "pooler" } }, status: ready("10.244.5.3", "p") },
];
const cnpgServices = (selectorRole: Record<string, string> = { "cnpg.io/instanceRole": "primary" }): ServiceLike[] => [
  { metadata: { name: "cluster-example-rw", labels: { "cnpg.io/cluster": "cluster-example" } }, spec: { type: "ClusterIP", clusterIP: "10.96.0.50", selector: { "cnpg.io/cluster": "cluster-example", ...selectorRole } } },
  { metadata: { name: "cluster-example-ro" }, spec: { clusterIP: "10.96.0.51", selector: { "cnpg.io/cluster": "cluster-example", "cnpg.io/instanceRole": "replica" } } },
  { metadata: { name: "cluster-example-r" }, spec: { clusterIP: "10.96.0.52", selector: { "cnpg.io/cluster": "cluster-example", "cnpg.io/podRole": "instance" } } },
];

const roles = (c: ReturnType<typeof attachedMembers>) => Object.fromEntries(c.members.map((m) => [m.name, m.role]));

describe("Zalando postgres-operator (Spilo)", () => {
  const o = OPERATORS.spilo;
  const pods = [spiloPod(0, "master", "primary", "10.244.1.5"), spiloPod(1, "replica", "replica", "10.244.2.6"), spiloPod(2, "replica", "replica", "10.244.3.7"), spiloPooler];

  it("finds the members by application=spilo,cluster-name=X and their roles by spilo-role (not the pooler)", () => {
    expect(detectOperator(pods)).toEqual({ operator: o, cluster: "acid-minimal-cluster" });
    const c = attachedMembers(o, "acid-minimal-cluster", pods);
    expect(roles(c)).toEqual({ "acid-minimal-cluster-0": "leader", "acid-minimal-cluster-1": "replica", "acid-minimal-cluster-2": "replica" });
    expect(c.leader).toBe("acid-minimal-cluster-0");
    expect(c.problems).toEqual([]);
    expect(c.members[0]).toMatchObject({ ip: "10.244.1.5", node: "ip-10-0-0-17.eu-central-1.compute.internal", state: "running", label: "master" });
  });

  it("writes through the Service named after the cluster, whose Endpoints Patroni points at the leader", () => {
    expect(primaryServiceOf(o, "acid-minimal-cluster", spiloServices)).toEqual({ service: "acid-minimal-cluster", routes: "endpoints" });
    expect(podsBehindService("acid-minimal-cluster", { services: spiloServices, endpoints: [spiloLeaderEndpoints("acid-minimal-cluster-0", "10.244.1.5")], pods })).toEqual(["acid-minimal-cluster-0"]);
    expect(podsBehindService("acid-minimal-cluster-repl", { services: spiloServices, endpoints: [], pods })).toEqual(["acid-minimal-cluster-1", "acid-minimal-cluster-2"]);
  });

  it("sees through a stale master label with the leader lock, and takes Patroni's word for a pod without a label", () => {
    // A failover while acid-minimal-cluster-0 was cut from the API server: it still says master; -1 leads now; -2 just started.
    const after = [spiloPod(0, "master", "primary", "10.244.1.5"), spiloPod(1, "master", "primary", "10.244.2.6"), spiloPod(2, undefined, "replica", "10.244.3.7")];
    const byLabels = attachedMembers(o, "acid-minimal-cluster", after);
    expect(byLabels.leader).toBeUndefined();
    expect(byLabels.problems).toEqual([
      "acid-minimal-cluster-2: no spilo-role label; Patroni's status annotation says replica",
      "2 members are primaries (acid-minimal-cluster-0, acid-minimal-cluster-1): a split brain, or labels not updated yet",
    ]);
    const lock = lockHolder(spiloLeaderEndpoints("acid-minimal-cluster-1", "10.244.2.6").metadata!.annotations, Date.parse("2026-11-29T23:00:10Z"));
    expect(lock).toBe("acid-minimal-cluster-1");
    const c = attachedMembers(o, "acid-minimal-cluster", after, { leader: lock, source: "the leader lock (Endpoints acid-minimal-cluster)" });
    expect(roles(c)).toEqual({ "acid-minimal-cluster-0": "replica", "acid-minimal-cluster-1": "leader", "acid-minimal-cluster-2": "replica" });
    expect(c.leader).toBe("acid-minimal-cluster-1");
    expect(c.problems).toEqual([
      "acid-minimal-cluster-0: labelled spilo-role=master, but the leader lock (Endpoints acid-minimal-cluster) says replica (a stale label)",
      "acid-minimal-cluster-2: no spilo-role label; the leader lock (Endpoints acid-minimal-cluster) says replica",
    ]);
    // An expired lock names nobody.
    expect(lockHolder(spiloLeaderEndpoints("acid-minimal-cluster-1", "x").metadata!.annotations, Date.parse("2026-11-29T23:01:00Z"))).toBeUndefined();
  });
});

describe("Crunchy PGO v5", () => {
  const o = OPERATORS.pgo;
  const pods = [pgoPod("8b7d", "master", "primary", "10.244.2.11"), pgoPod("x2rz", "replica", "replica", "10.244.3.12"), pgoPod("qvbc", "replica", "replica", "10.244.1.13"), ...pgoNeighbours];

  it("finds the instance pods by the cluster and instance labels (not the pgBackRest repo host or a backup job)", () => {
    expect(detectOperator(pods)).toEqual({ operator: o, cluster: "hippo" });
    const c = attachedMembers(o, "hippo", pods);
    expect(roles(c)).toEqual({ "hippo-instance1-8b7d-0": "leader", "hippo-instance1-qvbc-0": "replica", "hippo-instance1-x2rz-0": "replica" });
    expect(c.problems).toEqual([]);
  });

  it("writes through hippo-primary, following its Endpoints to hippo-ha's ClusterIP and on to the leader", () => {
    expect(primaryServiceOf(o, "hippo", pgoServices)).toEqual({ service: "hippo-primary", routes: "endpoints" });
    expect(podsBehindService("hippo-primary", { services: pgoServices, endpoints: pgoEndpoints("hippo-instance1-8b7d-0", "10.244.2.11"), pods })).toEqual(["hippo-instance1-8b7d-0"]);
  });

  it("notes a stale master label and a missing one against the lock on hippo-ha", () => {
    const after = [pgoPod("8b7d", "master", "replica", "10.244.2.11"), pgoPod("x2rz", "master", "primary", "10.244.3.12"), pgoPod("qvbc", undefined, "replica", "10.244.1.13")];
    // Without the lock, Patroni's own annotation already corrects the old primary's label.
    const byPatroni = attachedMembers(o, "hippo", after);
    expect(byPatroni.leader).toBe("hippo-instance1-x2rz-0");
    expect(byPatroni.problems[0]).toBe("hippo-instance1-8b7d-0: labelled postgres-operator.crunchydata.com/role=master, but Patroni's status annotation says replica (a stale label)");
    const lock = lockHolder(pgoEndpoints("hippo-instance1-x2rz-0", "10.244.3.12")[1]!.metadata!.annotations, Date.parse("2026-11-29T23:00:05Z"));
    const c = attachedMembers(o, "hippo", after, { leader: lock, source: "the leader lock (Endpoints hippo-ha)" });
    expect(roles(c)).toEqual({ "hippo-instance1-8b7d-0": "replica", "hippo-instance1-qvbc-0": "replica", "hippo-instance1-x2rz-0": "leader" });
    expect(c.problems).toEqual([
      "hippo-instance1-8b7d-0: labelled postgres-operator.crunchydata.com/role=master, but the leader lock (Endpoints hippo-ha) says replica (a stale label)",
      "hippo-instance1-qvbc-0: no postgres-operator.crunchydata.com/role label; the leader lock (Endpoints hippo-ha) says replica",
    ]);
  });
});

describe("CloudNativePG", () => {
  const o = OPERATORS.cnpg;
  const pods = [cnpgPod(1, "primary", "10.244.1.21"), cnpgPod(2, "replica", "10.244.2.22"), cnpgPod(3, "replica", "10.244.3.23"), ...cnpgNeighbours];

  it("finds the instances by cnpg.io/cluster and podRole=instance, their roles by cnpg.io/instanceRole (not jobs or poolers)", () => {
    expect(detectOperator(pods)).toEqual({ operator: o, cluster: "cluster-example" });
    const c = attachedMembers(o, "cluster-example", pods);
    expect(roles(c)).toEqual({ "cluster-example-1": "leader", "cluster-example-2": "replica", "cluster-example-3": "replica" });
    expect(c.problems).toEqual([]);
  });

  it("writes through cluster-example-rw, which selects instanceRole=primary (or the deprecated role=primary)", () => {
    const svc = cnpgServices();
    expect(primaryServiceOf(o, "cluster-example", svc)).toEqual({ service: "cluster-example-rw", routes: "selector", selector: { "cnpg.io/cluster": "cluster-example", "cnpg.io/instanceRole": "primary" } });
    expect(podsBehindService("cluster-example-rw", { services: svc, endpoints: [], pods })).toEqual(["cluster-example-1"]);
    expect(primaryServiceOf(o, "cluster-example", cnpgServices({ role: "primary" }))).toMatchObject({ routes: "selector" });
    expect(primaryServiceOf(o, "cluster-example", cnpgServices({ "cnpg.io/podRole": "instance" }))).toEqual({
      problem: "Service cluster-example-rw selects cnpg.io/cluster=cluster-example,cnpg.io/podRole=instance, not the primary's cnpg.io/instanceRole: writes through it could reach a replica",
    });
    expect(primaryServiceOf(o, "other", svc)).toEqual({ problem: 'CloudNativePG names the primary Service of other "other-rw", and there is no such Service' });
  });

  it("reads the deprecated role label where instanceRole is missing (instances made before 1.24)", () => {
    const old = [cnpgPod(1, "primary", "10.244.1.21", { legacyOnly: true }), cnpgPod(2, "replica", "10.244.2.22", { legacyOnly: true })];
    expect(roles(attachedMembers(o, "cluster-example", old))).toEqual({ "cluster-example-1": "leader", "cluster-example-2": "replica" });
  });

  it("takes status.currentPrimary over a label the operator has not updated yet, and says which pod has none", () => {
    // Failover to -2: the operator has not relabelled -1 yet, -2 still says replica, -3 lost its label.
    const after = [cnpgPod(1, "primary", "10.244.1.21"), cnpgPod(2, "replica", "10.244.2.22"), cnpgPod(3, undefined, "10.244.3.23")];
    const byLabels = attachedMembers(o, "cluster-example", after);
    expect(byLabels.leader).toBe("cluster-example-1");
    expect(byLabels.problems).toEqual(["cluster-example-3: no cnpg.io/instanceRole label, and nothing else says its role"]);
    const c = attachedMembers(o, "cluster-example", after, { leader: "cluster-example-2", source: "the Cluster's status.currentPrimary" });
    expect(c.leader).toBe("cluster-example-2");
    expect(c.problems).toEqual([
      "cluster-example-1: labelled cnpg.io/instanceRole=primary, but the Cluster's status.currentPrimary says replica (a stale label)",
      "cluster-example-2: labelled cnpg.io/instanceRole=replica, but the Cluster's status.currentPrimary says leader (a stale label)",
      "cluster-example-3: no cnpg.io/instanceRole label; the Cluster's status.currentPrimary says replica",
    ]);
    // The -rw Service follows the labels: it still routes to the old primary, which is what the run must know.
    expect(podsBehindService("cluster-example-rw", { services: cnpgServices(), endpoints: [], pods: after })).toEqual(["cluster-example-1"]);
  });
});

describe("what --attach names", () => {
  it("is a cluster name or a label selector", () => {
    expect(parseAttachTarget("acid-minimal-cluster")).toEqual({ cluster: "acid-minimal-cluster" });
    expect(parseAttachTarget("cnpg.io/cluster=cluster-example")).toEqual({ selector: "cnpg.io/cluster=cluster-example" });
    expect(parseAttachTarget("Bad Name")).toEqual({ problem: expect.stringMatching(/neither a cluster name .* nor a label selector/) });
    expect(parseAttachTarget(" ")).toEqual({ problem: "--attach needs a cluster name or a label selector" });
  });

  it("knows three operators, and names them when given another", () => {
    expect(operatorNamed("CNPG")).toBe(OPERATORS.cnpg);
    expect(operatorNamed("stackgres")).toEqual({ problem: expect.stringMatching(/^unknown operator "stackgres": --operator takes spilo \(Zalando.*pgo \(Crunchy.*cnpg \(CloudNativePG\)$/) });
  });

  it("says when the pods carry no operator's labels, or two clusters'", () => {
    expect(detectOperator([{ metadata: { name: "pg-0", labels: { application: "pgchaos", "cluster-name": "pg" } } }])).toEqual({ problem: expect.stringMatching(/^none of the 1 pods carries the labels of a known operator's database pods/) });
    const two = [spiloPod(0, "master", "primary", "a"), cnpgPod(1, "primary", "b")];
    expect(detectOperator(two)).toEqual({ problem: expect.stringMatching(/several clusters \(spilo\/acid-minimal-cluster, cnpg\/cluster-example\)/) });
  });

  it("matches label selectors as the API server does: equality, existence, inequality", () => {
    expect(matchesSelector("a=1,b", { a: "1", b: "" })).toBe(true);
    expect(matchesSelector("a=1,b", { a: "1" })).toBe(false);
    expect(matchesSelector("a!=1", { a: "2" })).toBe(true);
    expect(matchesSelector("a==1,!c", { a: "1" })).toBe(true);
  });
});

describe("the plan of an attached run", () => {
  const plan = attachPlan({ runId: "ab12cd34", operator: "cnpg", namespace: "db", cluster: "cluster-example" });
  const members = ["cluster-example-1", "cluster-example-2", "cluster-example-3"];

  it("creates a schema of its own with the probe tables, and drops exactly those, RESTRICT", () => {
    expect(plan.creates.map((c) => `${c.kind} ${c.name}`)).toEqual(["schema pgchaos_ab12cd34", "table pgchaos_ab12cd34.pgchaos_writes", "table pgchaos_ab12cd34.pgchaos_node_probe"]);
    expect(plan.creates[0]!.sql).toBe("CREATE SCHEMA pgchaos_ab12cd34");
    expect(plan.creates.slice(1).every((c) => c.sql.startsWith(`CREATE TABLE ${c.name} (`))).toBe(true);
    expect(plan.drops).toEqual(["DROP TABLE pgchaos_ab12cd34.pgchaos_node_probe, pgchaos_ab12cd34.pgchaos_writes RESTRICT", "DROP SCHEMA pgchaos_ab12cd34 RESTRICT"]);
    expect(plan.drops.join(" ")).not.toMatch(/CASCADE|IF EXISTS/);
    expect(plan.sessionOptions).toBe("-c search_path=pgchaos_ab12cd34");
    expect(() => attachPlan({ runId: "x; DROP", operator: "cnpg", namespace: "db", cluster: "c" })).toThrow(/cannot name a schema/);
  });

  it("allows dropping what it created and execs into members, and refuses every other removal", () => {
    for (const c of plan.creates) expect(() => assertAttachAllows(plan, members, { op: "drop", kind: c.kind, name: c.name })).not.toThrow();
    expect(() => assertAttachAllows(plan, members, { op: "exec", pod: "cluster-example-2" })).not.toThrow();
    expect(() => assertAttachAllows(plan, members, { op: "drop", kind: "table", name: "public.pgchaos_writes" })).toThrow(/drops only what it creates/);
    expect(() => assertAttachAllows(plan, members, { op: "exec", pod: "pooler-example-rw-6d9f5b7c4-x2x4z" })).toThrow(/execs only into the members/);
    for (const [op, kind, name] of [
      ["delete", "Pod", "cluster-example-1"],
      ["evict", "Pod", "cluster-example-1"],
      ["delete", "PersistentVolumeClaim", "cluster-example-1"],
      ["patch", "Cluster", "cluster-example"],
      ["delete", "Service", "cluster-example-rw"],
    ] as const) {
      expect(() => assertAttachAllows(plan, members, { op, kind, name }), `${op} ${kind}`).toThrow(/never .* anything of the operator's .*it did not create it/);
    }
    expect(plan.never.join(" ")).toMatch(/deletes, evicts, patches or scales a pod/);
  });
});

describe("finding an attached cluster through the API (a stand-in that filters by label selector)", async () => {
  const { discoverAttached, describeDiscovery } = await import("./attach-discover.ts");
  const world = (pods: PodLike[], services: ServiceLike[], endpoints: EndpointsLike[], cr?: { status: { currentPrimary: string } }) => {
    const asked: string[] = [];
    const notFound = () => Object.assign(new Error("not found"), { code: 404 });
    const clients = {
      core: {
        async listNamespacedPod({ labelSelector }: { labelSelector: string }) {
          asked.push(labelSelector);
          return { items: pods.filter((p) => matchesSelector(labelSelector, p.metadata?.labels)) };
        },
        async listNamespacedService() {
          return { items: services };
        },
        async listNamespacedEndpoints() {
          return { items: endpoints };
        },
        async readNamespacedEndpoints({ name }: { name: string }) {
          const e = endpoints.find((x) => x.metadata?.name === name);
          if (!e) throw notFound();
          return e;
        },
        async readNamespacedConfigMap() {
          throw notFound();
        },
      },
      objects: {
        async read() {
          if (!cr) throw notFound();
          return cr;
        },
      },
    };
    return { clients: clients as never, asked };
  };

  it("finds a CloudNativePG cluster by name, its primary by status.currentPrimary, and the Service's pod", async () => {
    const pods = [cnpgPod(1, "primary", "10.244.1.21"), cnpgPod(2, "replica", "10.244.2.22"), cnpgPod(3, undefined, "10.244.3.23"), ...cnpgNeighbours];
    const w = world(pods, cnpgServices(), [], { status: { currentPrimary: "cluster-example-1" } });
    const d = await discoverAttached(w.clients, { namespace: "default", target: { cluster: "cluster-example" } });
    if ("problem" in d) throw new Error(d.problem);
    expect(d.operator.name).toBe("cnpg");
    expect(d.cluster.leader).toBe("cluster-example-1");
    expect(d.primaryPods).toEqual(["cluster-example-1"]);
    expect(w.asked).toEqual(["application=spilo,cluster-name=cluster-example", "postgres-operator.crunchydata.com/cluster=cluster-example,postgres-operator.crunchydata.com/instance", "cnpg.io/cluster=cluster-example,cnpg.io/podRole=instance"]);
    const text = describeDiscovery(d).join("\n");
    expect(text).toMatch(/^CloudNativePG cluster cluster-example in namespace default:/);
    expect(text).toMatch(/primary Service cluster-example-rw \(selector\) routes to cluster-example-1/);
    expect(text).toMatch(/note: cluster-example-3: no cnpg.io\/instanceRole label; the Cluster's status.currentPrimary says replica/);
  });

  it("finds a Spilo cluster by selector, with the leader lock from the Endpoints Patroni writes", async () => {
    const pods = [spiloPod(0, "master", "primary", "10.244.1.5"), spiloPod(1, "replica", "replica", "10.244.2.6"), spiloPooler];
    const lock = { ...spiloLeaderEndpoints("acid-minimal-cluster-0", "10.244.1.5") };
    lock.metadata = { ...lock.metadata, annotations: { ...lock.metadata!.annotations, renewTime: new Date().toISOString() } };
    const w = world(pods, spiloServices, [lock]);
    const d = await discoverAttached(w.clients, { namespace: "default", target: { selector: "application=spilo,cluster-name=acid-minimal-cluster" } });
    if ("problem" in d) throw new Error(d.problem);
    expect(d.authority).toEqual({ leader: "acid-minimal-cluster-0", source: "the leader lock (Endpoints acid-minimal-cluster)" });
    expect(d.primaryPods).toEqual(["acid-minimal-cluster-0"]);
  });

  it("says why when nothing matches, or the pods are another operator's", async () => {
    const w = world([cnpgPod(1, "primary", "10.244.1.21")], cnpgServices(), []);
    expect(await discoverAttached(w.clients, { namespace: "db", target: { cluster: "acid-minimal-cluster" } })).toEqual({
      problem: expect.stringMatching(/^no pods in namespace db match "application=spilo,cluster-name=acid-minimal-cluster" or .*: is the cluster in another namespace \(--namespace\), or named otherwise\?$/),
    });
    expect(await discoverAttached(w.clients, { namespace: "db", target: { selector: "cnpg.io/cluster=cluster-example" }, operator: OPERATORS.spilo })).toEqual({
      problem: "1 pods in namespace db match, but none is a database pod of Zalando postgres-operator (Spilo) (application=spilo,cluster-name=<cluster>)",
    });
  });
});

describe("Patroni's lock objects of an attached cluster (a stand-in API)", async () => {
  const { patroniLock } = await import("./attach-discover.ts");
  const notFound = () => Object.assign(new Error("not found"), { code: 404 });
  const api = (objects: Record<string, Record<string, string> | "forbidden">) => {
    const read = (kind: string) => async ({ name }: { name: string }) => {
      const o = objects[`${kind} ${name}`];
      if (o === "forbidden") throw Object.assign(new Error("forbidden"), { code: 403 });
      if (!o) throw notFound();
      return { metadata: { name, annotations: o } };
    };
    return { core: { readNamespacedEndpoints: read("Endpoints"), readNamespacedConfigMap: read("ConfigMap") } } as never;
  };
  const held = { leader: "acid-0", renewTime: "2026-11-30T23:00:00Z", ttl: "30" };

  it("reads Spilo's default Endpoints, and the ConfigMap where the Endpoints are a Service's with a selector", async () => {
    expect(await patroniLock(api({ "Endpoints acid": held }), "db", OPERATORS.spilo, "acid", "leader")).toEqual({ annotations: held, source: "Endpoints acid" });
    expect(await patroniLock(api({ "Endpoints acid": {}, "ConfigMap acid-leader": held }), "db", OPERATORS.spilo, "acid", "leader")).toEqual({ annotations: held, source: "ConfigMap acid-leader" });
    expect(await patroniLock(api({ "ConfigMap acid-sync": { leader: "acid-0", sync_standby: "acid-1" } }), "db", OPERATORS.spilo, "acid", "sync")).toMatchObject({ source: "ConfigMap acid-sync" });
  });

  it("names PGO's objects after its scope, <cluster>-ha", async () => {
    expect(await patroniLock(api({ "Endpoints hippo-ha": held }), "db", OPERATORS.pgo, "hippo", "leader")).toMatchObject({ source: "Endpoints hippo-ha" });
    expect(await patroniLock(api({ "Endpoints hippo-ha-sync": { leader: "hippo-0", sync_standby: "" } }), "db", OPERATORS.pgo, "hippo", "sync")).toMatchObject({ source: "Endpoints hippo-ha-sync" });
    expect(await patroniLock(api({ "ConfigMap hippo-ha-leader": held }), "db", OPERATORS.pgo, "hippo", "leader")).toMatchObject({ source: "ConfigMap hippo-ha-leader" });
  });

  it("says nobody holds a released lock; leaves the labels to decide when nothing says, or it cannot read", async () => {
    expect(await patroniLock(api({ "ConfigMap acid-leader": { renewTime: "2026-11-30T23:00:00Z" } }), "db", OPERATORS.spilo, "acid", "leader")).toEqual({ annotations: {}, source: "ConfigMap acid-leader" });
    expect(await patroniLock(api({ "Endpoints acid": { renewTime: "2026-11-30T23:00:00Z" } }), "db", OPERATORS.spilo, "acid", "leader")).toEqual({ annotations: {}, source: "Endpoints acid" });
    expect(await patroniLock(api({ "Endpoints acid": {} }), "db", OPERATORS.spilo, "acid", "leader")).toBeUndefined();
    expect(await patroniLock(api({}), "db", OPERATORS.spilo, "acid", "leader")).toBeUndefined();
    expect(await patroniLock(api({ "Endpoints acid": "forbidden" }), "db", OPERATORS.spilo, "acid", "leader")).toBeUndefined();
    // A user who may not read Endpoints still finds the lock in the ConfigMap.
    expect(await patroniLock(api({ "Endpoints acid": "forbidden", "ConfigMap acid-leader": held }), "db", OPERATORS.spilo, "acid", "leader")).toMatchObject({ source: "ConfigMap acid-leader" });
  });
});
