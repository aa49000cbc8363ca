import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { getProfile } from "../../stack/patroni/profiles.ts";
import { BRING_UP } from "../../stack/patroni/config.ts";
import { validateObject } from "./openapi-validate.ts";
import type { V1Service } from "@kubernetes/client-node";
import {
  allocatedNodePorts,
  applyOrder,
  HOLD_GATE,
  LEADER_LABEL_VALUE,
  patroniLabels,
  redactedYaml,
  renderManifests,
  ROLE_LABEL,
  secretName,
  type KubeClusterInput,
} from "./manifests.ts";
import { TEST_IMAGE } from "./test-stack.ts";

const passwords = { superuser: "su-Xk3v9Qw2Lm7pZ", replication: "rep-Hh2Jq8Vn4Ty6R", rewind: "rw-Bc5Nd1Fg7Kz3W" };
const input = (over: Partial<KubeClusterInput> = {}): KubeClusterInput => ({
  name: "pg",
  namespace: "pgchaos-ab12cd",
  replicas: 3,
  profile: getProfile("fast"),
  image: TEST_IMAGE,
  passwords,
  runId: "ab12cd",
  bringUp: BRING_UP,
  ...over,
});

describe("manifests against the Kubernetes OpenAPI schemas", () => {
  const m = renderManifests(input());

  it("renders every object the cluster needs, in apply order", () => {
    expect(applyOrder(m).map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      "ServiceAccount/pg",
      "Role/pg",
      "RoleBinding/pg",
      "Secret/pg-credentials",
      "ConfigMap/pg-patroni-yml",
      "Service/pg",
      "Service/pg-primary",
      "Service/pg-replica",
      "Service/pg-0-direct",
      "Service/pg-1-direct",
      "Service/pg-2-direct",
      "PodDisruptionBudget/pg",
      "StatefulSet/pg",
    ]);
  });

  for (const o of applyOrder(renderManifests(input()))) {
    it(`${o.kind} ${o.metadata?.name} validates`, () => {
      expect(() => validateObject(o)).not.toThrow();
      expect(o.metadata?.namespace).toBe("pgchaos-ab12cd");
    });
  }

  it("validates with the default profile and synchronous mode too", () => {
    for (const o of applyOrder(renderManifests(input({ profile: getProfile("default", { sync: true }), bringUp: undefined })))) validateObject(o);
  });

  it("rejects deliberately broken manifests", () => {
    const sts = structuredClone(m.statefulSet) as unknown as { spec: { replicas: unknown; template: { spec: { containers: Array<Record<string, unknown>> } } } };
    sts.spec.replicas = "three";
    expect(() => validateObject(sts)).toThrow(/StatefulSet pg is invalid: \/spec\/replicas must be integer/);

    const noName = structuredClone(m.statefulSet) as unknown as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
    delete noName.spec.template.spec.containers[0]!.name;
    expect(() => validateObject(noName)).toThrow(/containers\/0 must have required property name/);

    const badPort = structuredClone(m.primary) as unknown as { spec: { ports: Array<Record<string, unknown>> } };
    badPort.spec.ports[0]!.nodePort = "30432";
    expect(() => validateObject(badPort)).toThrow(/nodePort must be integer/);

    const badPdb = structuredClone(m.pdb) as unknown as { spec: { selector: unknown } };
    badPdb.spec.selector = ["role=primary"];
    expect(() => validateObject(badPdb)).toThrow(/PodDisruptionBudget pg is invalid/);

    expect(() => validateObject({ ...m.pdb, apiVersion: "policy/v1beta1" })).toThrow(/no OpenAPI schema for policy\/v1beta1\/PodDisruptionBudget/);
  });
});

describe("rendering details", () => {
  const m = renderManifests(input());
  const pod = m.statefulSet.spec!.template.spec!;
  const c = pod.containers[0]!;
  const envOf = (name: string) => c.env!.find((e) => e.name === name);

  it("makes the StatefulSet's selector, its pods' labels and Patroni's labels agree", () => {
    const selector = m.statefulSet.spec!.selector.matchLabels!;
    const podLabels = m.statefulSet.spec!.template.metadata!.labels!;
    expect(selector).toEqual(patroniLabels("pg"));
    for (const [k, v] of Object.entries(selector)) expect(podLabels[k]).toBe(v);
    // Patroni finds its pods with PATRONI_KUBERNETES_LABELS plus <scope label>=<scope>.
    const patroni = JSON.parse(envOf("PATRONI_KUBERNETES_LABELS")!.value!) as Record<string, string>;
    expect({ ...patroni, [envOf("PATRONI_KUBERNETES_SCOPE_LABEL")!.value!]: envOf("PATRONI_SCOPE")!.value! }).toEqual(selector);
    expect(m.pdb.spec!.selector!.matchLabels).toEqual(selector);
    expect(m.headless.spec!.selector).toEqual(selector);
    expect(m.statefulSet.spec!.serviceName).toBe(m.headless.metadata!.name);
  });

  it("routes the leader Service to role=primary (Patroni 4's leader label), on a NodePort the API server allocates", () => {
    expect(m.primary.spec!.selector).toEqual({ ...patroniLabels("pg"), [ROLE_LABEL]: LEADER_LABEL_VALUE });
    expect(LEADER_LABEL_VALUE).toBe("primary");
    expect(envOf("PATRONI_KUBERNETES_LEADER_LABEL_VALUE")!.value).toBe("primary");
    expect(m.primary.spec!.type).toBe("NodePort");
    expect(m.replica.spec!.selector).toEqual({ ...patroniLabels("pg"), role: "replica" });
    expect(m.members.map((s) => s.spec!.selector!["statefulset.kubernetes.io/pod-name"])).toEqual(["pg-0", "pg-1", "pg-2"]);
    // Patroni 3 cannot be told the value and writes role=master on its leader: the Service follows it.
    expect(renderManifests(input({ leaderLabelValue: "master" })).primary.spec!.selector).toEqual({ ...patroniLabels("pg"), [ROLE_LABEL]: "master" });
    // No fixed port (30432... collided between runs and with a reused cluster): the API server picks free ones.
    for (const svc of [m.primary, ...m.members]) expect(svc.spec!.ports![0]!.nodePort).toBeUndefined();
  });

  it("opens no NodePort on a cluster reached by context (ClusterIP Services, reached by port-forward), and still validates", () => {
    const c = renderManifests(input({ serviceType: "ClusterIP" }));
    for (const svc of [c.primary, c.replica, ...c.members]) expect(svc.spec!.type).toBe("ClusterIP");
    expect(c.primary.spec!.selector).toEqual(m.primary.spec!.selector);
    for (const o of applyOrder(c)) validateObject(o);
  });

  it("reads the allocated NodePorts back from the Services, and names a Service without one", () => {
    const svc = (name: string, nodePort?: number): V1Service => ({ metadata: { name }, spec: { ports: [{ name: "postgresql", port: 5432, nodePort }] } });
    const services = [svc("pg-primary", 31007), svc("pg-0-direct", 30112), svc("pg-1-direct", 32001), svc("pg-2-direct", 30555), svc("pg")];
    expect(allocatedNodePorts("pg", 3, services)).toEqual({ primary: 31007, members: [30112, 32001, 30555] });
    expect(() => allocatedNodePorts("pg", 3, services.slice(0, 3))).toThrow("Service pg-2-direct does not exist");
    expect(() => allocatedNodePorts("pg", 1, [svc("pg-primary"), svc("pg-0-direct", 1)])).toThrow("Service pg-primary has no NodePort allocated");
  });

  it("meets Pod Security's restricted level, which a cluster reached by context may enforce", () => {
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } });
    expect(c.securityContext!.privileged).toBeUndefined();
    expect(c.securityContext!.capabilities!.add).toBeUndefined();
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.volumes!.every((v) => v.hostPath === undefined)).toBe(true);
  });

  it("creates every pod held (a scheduling gate), so that a member a fault deleted stays down until startNode", () => {
    expect(pod.schedulingGates).toEqual([{ name: HOLD_GATE }]);
  });

  it("uses ConfigMaps for the DCS and a Role limited to what that needs", () => {
    expect(envOf("PATRONI_KUBERNETES_USE_ENDPOINTS")!.value).toBe("false");
    const resources = m.role.rules!.flatMap((r) => r.resources ?? []);
    expect(resources.sort()).toEqual(["configmaps", "pods"]);
    expect(m.role.rules!.find((r) => r.resources!.includes("pods"))!.verbs).toEqual(expect.arrayContaining(["get", "list", "patch", "watch"]));
    expect(m.roleBinding.subjects).toEqual([{ kind: "ServiceAccount", name: "pg", namespace: "pgchaos-ab12cd" }]);
    expect(m.roleBinding.roleRef.name).toBe(m.role.metadata!.name);
    expect(pod.serviceAccountName).toBe(m.serviceAccount.metadata!.name);
  });

  it("takes the passwords from the input, only in the Secret, and hands them to Patroni by reference", () => {
    expect(m.secret.stringData).toEqual({
      "superuser-password": passwords.superuser,
      "replication-password": passwords.replication,
      "rewind-password": passwords.rewind,
    });
    const other = renderManifests(input({ passwords: { superuser: "another-one-123", replication: "another-two-456", rewind: "another-three-789" } }));
    expect(other.secret.stringData!["superuser-password"]).toBe("another-one-123");
    const everythingElse = JSON.stringify({ ...m, secret: undefined });
    for (const p of Object.values(passwords)) expect(everythingElse).not.toContain(p);
    expect(envOf("PATRONI_SUPERUSER_PASSWORD")!.valueFrom).toEqual({ secretKeyRef: { name: secretName("pg"), key: "superuser-password" } });
    expect(redactedYaml(m)).not.toContain(passwords.superuser);
    expect(redactedYaml(m)).toContain("<redacted>");
    expect(() => renderManifests(input({ passwords: { ...passwords, rewind: "short" } }))).toThrow(/rewind password/);
  });

  it("pins the image and refuses :latest, a missing tag or a branch", () => {
    expect(c.image).toBe(TEST_IMAGE);
    expect(renderManifests(input({ image: "registry.example:5000/pg/patroni:4.0.10-pg17.6" })).statefulSet.spec!.template.spec!.containers[0]!.image).toBe(
      "registry.example:5000/pg/patroni:4.0.10-pg17.6",
    );
    for (const bad of ["pgchaos/patroni:latest", "pgchaos/patroni", "pgchaos/patroni:master", "ghcr.io/x/patroni:main", "registry:5000/patroni"]) {
      expect(() => renderManifests(input({ image: bad })), bad).toThrow(/is not pinned/);
    }
  });

  it("bootstraps the DCS from the profile (with the bring-up timings) as the local platform does", () => {
    const yml = parseYaml(m.configMap.data!["patroni.yml"]!) as { bootstrap: { dcs: Record<string, unknown> & { postgresql: { parameters: Record<string, unknown> } } } };
    expect(yml.bootstrap.dcs).toMatchObject({ ...BRING_UP.dcs, maximum_lag_on_failover: 1048576, synchronous_mode: false });
    expect(yml.bootstrap.dcs.postgresql.parameters).toMatchObject({ wal_sender_timeout: "10s", wal_retrieve_retry_interval: "100ms" });
    const sync = renderManifests(input({ profile: getProfile("default", { sync: true }), bringUp: undefined }));
    const dcs = (parseYaml(sync.configMap.data!["patroni.yml"]!) as { bootstrap: { dcs: Record<string, unknown> } }).bootstrap.dcs;
    expect(dcs).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10, synchronous_mode: true });
    expect(m.configMap.data!["patroni.yml"]).not.toMatch(/password/i);
  });

  it("keeps members off control planes (minikube's is schedulable)", () => {
    expect(pod.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: "node-role.kubernetes.io/control-plane", operator: "DoesNotExist" }] },
    ]);
  });

  it("spreads members over nodes and zones, probes readiness on /readiness, and lets at most one be disrupted", () => {
    const anti = pod.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution!;
    expect(anti).toEqual([{ labelSelector: { matchLabels: patroniLabels("pg") }, topologyKey: "kubernetes.io/hostname" }]);
    expect(pod.topologySpreadConstraints![0]!.topologyKey).toBe("topology.kubernetes.io/zone");
    expect(c.readinessProbe!.httpGet).toMatchObject({ path: "/readiness", port: "patroni" });
    expect(c.livenessProbe).toBeUndefined();
    expect(m.pdb.spec).toMatchObject({ maxUnavailable: 1 });
    expect(m.pdb.spec!.minAvailable).toBeUndefined();
    expect(m.statefulSet.spec!.replicas).toBe(3);
  });

  it("refuses inputs it cannot render", () => {
    expect(() => renderManifests(input({ name: "Bad_Name" }))).toThrow(/DNS-1035/);
    expect(() => renderManifests(input({ replicas: 0 }))).toThrow(/replicas must be a positive integer/);
    // Five members render: the nodes, not fixed ports, limit how many (runtime-common.ts nodeProblems).
    expect(renderManifests(input({ replicas: 5 })).members).toHaveLength(5);
    expect(() => renderManifests(input({ runId: "UPPER case" }))).toThrow(/run id/);
  });
});
