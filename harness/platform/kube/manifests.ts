/**
 * Pure rendering of a kube-native Patroni cluster (Patroni's Kubernetes DCS, no etcd): the objects one run
 * applies into its own namespace, in apply order. Nothing here talks to a cluster; manifests.test.ts validates
 * every object against the Kubernetes OpenAPI schemas.
 *
 * Patroni keeps its state in ConfigMaps (`kubernetes.use_endpoints: false`: Endpoints are deprecated since
 * Kubernetes 1.33): `<scope>-config`, `<scope>-leader` (the leader lock: annotations leader, renewTime, ttl,
 * optime), `<scope>-failover`, `<scope>-sync`; each member writes its state into its own pod's `status`
 * annotation and its role into the pod's `role` label (Patroni 4: `primary` for the leader, `replica` for
 * running replicas). The leader Service selects `role=primary` (`role=master` under Patroni 3); it is the "primary service" of the harness.
 */
import type {
  V1ConfigMap,
  V1Container,
  V1EnvVar,
  V1PodDisruptionBudget,
  V1Role,
  V1RoleBinding,
  V1Secret,
  V1Service,
  V1ServiceAccount,
  V1StatefulSet,
} from "@kubernetes/client-node";
import { stringify as toYaml } from "yaml";
import type { HaProfile } from "../../stack/patroni/profiles.ts";
import { BRING_UP, PG_PORT, REST_PORT, patroniConfig } from "../../stack/patroni/config.ts";
import { assertPinnedImage } from "./image.ts";

/**
 * Scheduling gate every pod of the StatefulSet is created with: a pod does not start until the harness removes
 * it (at bring-up, and in startNode). A pod a fault deleted is recreated by the StatefulSet at once, but held,
 * so the member stays down until startNode, as a killed member on the local platform does.
 */
export const HOLD_GATE = "pgchaos.io/held";

/** Where PostgreSQL's data lives in the pod (a PersistentVolumeClaim per member). */
export const DATA_MOUNT = "/pgdata";
export const DATA_DIR = `${DATA_MOUNT}/data`;
export const PATRONI_CONFIG_DIR = "/etc/patroni";
export const CONTAINER = "patroni";
/** The image's PID 1 and control helper (fixtures/image/). */
export const POD_INIT = "/usr/local/bin/pgchaos-pod-init";
export const POD_CTL = "/usr/local/bin/pgchaos-ctl";

/** The label kubeadm puts on control-plane nodes (kind's and minikube's). */
export const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";

/**
 * Patroni's role label and values: the leader is `primary` from Patroni 4 (which can be told so), `master` before
 * (which cannot), so the leader Service selects what the run's Patroni writes (versions.ts rules.primaryRole).
 */
export const ROLE_LABEL = "role";
export const LEADER_LABEL_VALUE = "primary";
export const FOLLOWER_LABEL_VALUE = "replica";
/** Patroni adds `<scope label>=<scope>` to its labels; this is its default scope label. */
export const SCOPE_LABEL = "cluster-name";

export interface KubeClusterInput {
  /** StatefulSet name and Patroni scope; pods are `<name>-0`, `<name>-1`... (a DNS-1035 label, at most 40 characters). */
  name: string;
  namespace: string;
  replicas: number;
  profile: HaProfile;
  /** A pinned image reference (assertPinnedImage): the member image built for the run's stack, or the user's. */
  image: string;
  /** The value of the role label on the leader that the run's Patroni writes; "primary" when undefined (Patroni 4). */
  leaderLabelValue?: "primary" | "master";
  /** Generated per run by the caller, never written anywhere but the Secret. */
  passwords: { superuser: string; replication: string; rewind: string };
  /** Storage class of the data volumes; the cluster's default when undefined (kind: `standard`, local-path). */
  storageClassName?: string;
  storageSize?: string;
  /** Settings that replace the profile's during bring-up (config.ts BRING_UP); undefined bootstraps with the profile's. */
  bringUp?: typeof BRING_UP;
  /** Run id, put on every object as a label so that a crashed run's objects can be found. */
  runId: string;
  /**
   * Type of the leader Service and the members' Services: NodePort (kind, minikube: the harness enters them on a
   * node's address, the default) or ClusterIP (a cluster reached by context, where the harness port-forwards and
   * opens no port on anyone's nodes).
   */
  serviceType?: "NodePort" | "ClusterIP";
}

export interface KubeManifests {
  serviceAccount: V1ServiceAccount;
  role: V1Role;
  roleBinding: V1RoleBinding;
  secret: V1Secret;
  configMap: V1ConfigMap;
  /** Headless Service of the StatefulSet (stable pod DNS names). */
  headless: V1Service;
  /** Leader Service (selector role=primary, or master under Patroni 3), a NodePort the API server allocates (no port is fixed: runs never collide), or a ClusterIP. */
  primary: V1Service;
  /** Replica Service (selector role=replica). */
  replica: V1Service;
  /** One NodePort Service per member, selecting its pod by name (NodePorts allocated by the API server). */
  members: V1Service[];
  statefulSet: V1StatefulSet;
  pdb: V1PodDisruptionBudget;
}

/** Labels Patroni uses to find its pods and ConfigMaps (PATRONI_KUBERNETES_LABELS plus its scope label). */
export function patroniLabels(name: string): Record<string, string> {
  return { application: "pgchaos", [SCOPE_LABEL]: name };
}

/** Labels on every object pgchaos creates. */
export function objectLabels(input: Pick<KubeClusterInput, "name" | "runId">): Record<string, string> {
  return {
    ...patroniLabels(input.name),
    "app.kubernetes.io/name": "patroni",
    "app.kubernetes.io/instance": input.name,
    "app.kubernetes.io/managed-by": "pgchaos",
    "pgchaos.io/run": input.runId,
  };
}

export const podName = (name: string, ordinal: number) => `${name}-${ordinal}`;
export const memberServiceName = (name: string, ordinal: number) => `${name}-${ordinal}-direct`;
export const primaryServiceName = (name: string) => `${name}-primary`;
export const secretName = (name: string) => `${name}-credentials`;
export const configMapName = (name: string) => `${name}-patroni-yml`;
/** ConfigMaps Patroni itself creates (use_endpoints: false). */
export const leaderConfigMapName = (scope: string) => `${scope}-leader`;
export const syncConfigMapName = (scope: string) => `${scope}-sync`;

const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function checkInput(i: KubeClusterInput): void {
  const problems: string[] = [];
  if (!DNS_1035.test(i.name) || i.name.length > 40) problems.push(`name "${i.name}" must be a DNS-1035 label of at most 40 characters`);
  if (!DNS_1035.test(i.namespace) || i.namespace.length > 63) problems.push(`namespace "${i.namespace}" must be a DNS-1035 label of at most 63 characters`);
  if (!Number.isInteger(i.replicas) || i.replicas < 1) problems.push(`replicas must be a positive integer, got ${i.replicas}`);
  for (const [k, v] of Object.entries(i.passwords)) {
    if (typeof v !== "string" || v.length < 12) problems.push(`the ${k} password must be a generated string of at least 12 characters`);
  }
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(i.runId) || i.runId.length > 63) problems.push(`run id "${i.runId}" is not a valid label value`);
  if (problems.length > 0) throw new Error(`cannot render the Kubernetes manifests: ${problems.join("; ")}`);
}

/**
 * patroni.yml, mounted from the ConfigMap. Per-pod values (name, addresses, namespace) and the passwords come
 * from the environment (PATRONI_* variables, passwords from the Secret), so the file holds no secret. The
 * bootstrap DCS section is the one the local platform renders (config.ts patroniConfig), so both platforms
 * bootstrap with the same HA settings and PostgreSQL parameters.
 */
export function patroniYaml(i: Pick<KubeClusterInput, "name" | "profile" | "bringUp">): Record<string, unknown> {
  const shared = patroniConfig({
    scope: i.name,
    name: "unused",
    address: "0.0.0.0",
    etcdHosts: [],
    subnetCidr: "0.0.0.0/0",
    dataDir: DATA_DIR,
    socketDir: "/var/run/postgresql",
    logDir: "/tmp",
    pgpass: "/tmp/pgpass",
    binDir: "",
    profile: i.profile,
    bringUp: i.bringUp,
    passwords: { superuser: "", replication: "", rewind: "" },
  });
  const sharedPg = shared.postgresql as { basebackup: unknown };
  return {
    log: { level: "INFO", format: "%(asctime)s %(levelname)s: %(message)s" },
    bootstrap: shared.bootstrap,
    kubernetes: {},
    postgresql: {
      data_dir: DATA_DIR,
      pgpass: "/tmp/pgpass",
      basebackup: sharedPg.basebackup,
      // PostgreSQL logs to stderr, which is the container's log (collectLogs reads it through the API).
      parameters: { logging_collector: "off", log_line_prefix: "%m [%p] %q%u@%d ", shared_buffers: "32MB" },
      // Pod addresses are not known in advance; every password is generated per run.
      pg_hba: [
        "local all all trust",
        "host replication replicator 0.0.0.0/0 scram-sha-256",
        "host all all 0.0.0.0/0 scram-sha-256",
      ],
    },
    // There is no /dev/watchdog in a kind node.
    watchdog: { mode: "off" },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
}

function env(i: KubeClusterInput): V1EnvVar[] {
  const secret = (key: string): V1EnvVar["valueFrom"] => ({ secretKeyRef: { name: secretName(i.name), key } });
  return [
    { name: "PATRONI_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "PATRONI_SCOPE", value: i.name },
    { name: "PATRONI_KUBERNETES_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    { name: "PATRONI_KUBERNETES_POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
    { name: "PATRONI_KUBERNETES_USE_ENDPOINTS", value: "false" },
    // Through the `kubernetes` Service (one address, port 443): that is what a DCS cut drops (rules.ts).
    { name: "PATRONI_KUBERNETES_BYPASS_API_SERVICE", value: "false" },
    { name: "PATRONI_KUBERNETES_LABELS", value: JSON.stringify({ application: "pgchaos" }) },
    { name: "PATRONI_KUBERNETES_SCOPE_LABEL", value: SCOPE_LABEL },
    { name: "PATRONI_KUBERNETES_ROLE_LABEL", value: ROLE_LABEL },
    { name: "PATRONI_KUBERNETES_LEADER_LABEL_VALUE", value: i.leaderLabelValue ?? LEADER_LABEL_VALUE },
    { name: "PATRONI_KUBERNETES_FOLLOWER_LABEL_VALUE", value: FOLLOWER_LABEL_VALUE },
    { name: "PATRONI_RESTAPI_LISTEN", value: `0.0.0.0:${REST_PORT}` },
    { name: "PATRONI_RESTAPI_CONNECT_ADDRESS", value: `$(PATRONI_KUBERNETES_POD_IP):${REST_PORT}` },
    { name: "PATRONI_POSTGRESQL_LISTEN", value: `0.0.0.0:${PG_PORT}` },
    { name: "PATRONI_POSTGRESQL_CONNECT_ADDRESS", value: `$(PATRONI_KUBERNETES_POD_IP):${PG_PORT}` },
    { name: "PATRONI_SUPERUSER_USERNAME", value: "postgres" },
    { name: "PATRONI_SUPERUSER_PASSWORD", valueFrom: secret("superuser-password") },
    { name: "PATRONI_REPLICATION_USERNAME", value: "replicator" },
    { name: "PATRONI_REPLICATION_PASSWORD", valueFrom: secret("replication-password") },
    { name: "PATRONI_REWIND_USERNAME", value: "rewind_user" },
    { name: "PATRONI_REWIND_PASSWORD", valueFrom: secret("rewind-password") },
    { name: "PATRONI_CONFIG", value: `${PATRONI_CONFIG_DIR}/patroni.yml` },
    // For the pod's init (fixtures/image/pod-init.sh), which finds a postmaster left without Patroni by it.
    { name: "PGDATA", value: DATA_DIR },
    { name: "PYTHONUNBUFFERED", value: "1" },
  ];
}

function container(i: KubeClusterInput, image: string): V1Container {
  return {
    name: CONTAINER,
    image,
    imagePullPolicy: "IfNotPresent",
    command: [POD_INIT],
    ports: [
      { name: "postgresql", containerPort: PG_PORT, protocol: "TCP" },
      { name: "patroni", containerPort: REST_PORT, protocol: "TCP" },
    ],
    env: env(i),
    // Patroni's /readiness: 200 for the leader with its lock and for a running replica. No liveness probe on
    // purpose: a paused or partitioned member must stay as the fault left it, not be restarted by the kubelet.
    readinessProbe: {
      httpGet: { path: "/readiness", port: "patroni", scheme: "HTTP" },
      initialDelaySeconds: 3,
      periodSeconds: 2,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
    // What Pod Security's "restricted" level asks (a cluster reached by context may enforce it): nothing here needs
    // a capability (kills and pauses signal processes of the container's own user).
    securityContext: {
      runAsUser: 999,
      runAsGroup: 999,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: [
      { name: "pgdata", mountPath: DATA_MOUNT },
      { name: "patroni-config", mountPath: PATRONI_CONFIG_DIR, readOnly: true },
    ],
  };
}

/** Every object of one cluster. Throws on an invalid input or an unpinned image. */
export function renderManifests(i: KubeClusterInput): KubeManifests {
  checkInput(i);
  const image = i.image;
  assertPinnedImage(image);
  const labels = objectLabels(i);
  const selector = patroniLabels(i.name);
  const meta = (name: string, extra: Record<string, string> = {}) => ({ name, namespace: i.namespace, labels: { ...labels, ...extra } });
  const pgPort = { name: "postgresql", port: PG_PORT, targetPort: "postgresql", protocol: "TCP" };

  const serviceAccount: V1ServiceAccount = { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(i.name) };
  // What Patroni's Kubernetes DCS needs with use_endpoints: false and bypass_api_service: false: its ConfigMaps
  // (delete only for `patronictl remove`) and its pods' labels and annotations. No Endpoints, no Services.
  const role: V1Role = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: meta(i.name),
    rules: [
      { apiGroups: [""], resources: ["configmaps"], verbs: ["create", "get", "list", "patch", "update", "watch", "delete", "deletecollection"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "patch", "update", "watch"] },
    ],
  };
  const roleBinding: V1RoleBinding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: meta(i.name),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: i.name },
    subjects: [{ kind: "ServiceAccount", name: i.name, namespace: i.namespace }],
  };
  const secret: V1Secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta(secretName(i.name)),
    type: "Opaque",
    stringData: {
      "superuser-password": i.passwords.superuser,
      "replication-password": i.passwords.replication,
      "rewind-password": i.passwords.rewind,
    },
  };
  const configMap: V1ConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta(configMapName(i.name)),
    data: { "patroni.yml": toYaml(patroniYaml(i)) },
  };
  const headless: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(i.name),
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector,
      ports: [pgPort, { name: "patroni", port: REST_PORT, targetPort: "patroni", protocol: "TCP" }],
    },
  };
  const primary: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(primaryServiceName(i.name)),
    spec: {
      type: i.serviceType ?? "NodePort",
      selector: { ...selector, [ROLE_LABEL]: i.leaderLabelValue ?? LEADER_LABEL_VALUE },
      ports: [pgPort],
    },
  };
  const replica: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(`${i.name}-replica`),
    spec: { type: "ClusterIP", selector: { ...selector, [ROLE_LABEL]: FOLLOWER_LABEL_VALUE }, ports: [pgPort] },
  };
  const members: V1Service[] = Array.from({ length: i.replicas }, (_, k) => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(memberServiceName(i.name, k)),
    spec: {
      type: i.serviceType ?? "NodePort",
      // A member is read at the end of a run whatever its readiness says.
      publishNotReadyAddresses: true,
      selector: { ...selector, "statefulset.kubernetes.io/pod-name": podName(i.name, k) },
      ports: [pgPort],
    },
  }));
  const statefulSet: V1StatefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: meta(i.name),
    spec: {
      replicas: i.replicas,
      serviceName: i.name,
      // Members bootstrap and join in any order; Patroni's leader race decides who initialises.
      podManagementPolicy: "Parallel",
      selector: { matchLabels: selector },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" },
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          serviceAccountName: i.name,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: { fsGroup: 999 },
          affinity: {
            // Never on a control plane (minikube's is schedulable): failing a member's node must not take the
            // API server, the DCS, with it, and NodePort traffic enters there and leaves it for every member alike.
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: CONTROL_PLANE_LABEL, operator: "DoesNotExist" }] }] },
            },
            // One member per node: a node drain or failure takes one member, as the scenarios assume.
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: selector }, topologyKey: "kubernetes.io/hostname" }],
            },
          },
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } },
          ],
          // Held until the harness releases it (HOLD_GATE): a deleted member stays down until startNode.
          schedulingGates: [{ name: HOLD_GATE }],
          containers: [container(i, image)],
          volumes: [{ name: "patroni-config", configMap: { name: configMapName(i.name) } }],
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: "pgdata", labels: { ...labels } },
          spec: {
            accessModes: ["ReadWriteOnce"],
            ...(i.storageClassName ? { storageClassName: i.storageClassName } : {}),
            resources: { requests: { storage: i.storageSize ?? "1Gi" } },
          },
        },
      ],
    },
  };
  const pdb: V1PodDisruptionBudget = {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: meta(i.name),
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
  };
  return { serviceAccount, role, roleBinding, secret, configMap, headless, primary, replica, members, statefulSet, pdb };
}

/** Where the host reaches PostgreSQL: the NodePorts the API server gave the leader Service and each member's. */
export interface NodePorts {
  primary: number;
  /** By ordinal. */
  members: number[];
}

/**
 * The NodePorts of one cluster's Services as the API server allocated them (read back after apply): no port is
 * fixed in the manifests, so two runs, or a run and anything else in a reused cluster, never ask for the same.
 */
export function allocatedNodePorts(name: string, replicas: number, services: readonly V1Service[]): NodePorts {
  const port = (svc: string): number => {
    const s = services.find((x) => x.metadata?.name === svc);
    const p = s?.spec?.ports?.find((x) => x.name === "postgresql")?.nodePort;
    if (!Number.isInteger(p) || (p as number) <= 0) throw new Error(`Service ${svc} ${s ? "has no NodePort allocated" : "does not exist"}`);
    return p as number;
  };
  return { primary: port(primaryServiceName(name)), members: Array.from({ length: replicas }, (_, k) => port(memberServiceName(name, k))) };
}

/** The objects in the order they are applied (what a pod references exists before the pod). */
export function applyOrder(m: KubeManifests): Array<{ apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } }> {
  return [m.serviceAccount, m.role, m.roleBinding, m.secret, m.configMap, m.headless, m.primary, m.replica, ...m.members, m.pdb, m.statefulSet];
}

/** A multi-document YAML of the objects with the Secret's values replaced: for the run directory. */
export function redactedYaml(m: KubeManifests): string {
  const secret: V1Secret = { ...m.secret, stringData: Object.fromEntries(Object.keys(m.secret.stringData ?? {}).map((k) => [k, "<redacted>"])) };
  return applyOrder({ ...m, secret })
    .map((o) => toYaml(o))
    .join("---\n");
}
