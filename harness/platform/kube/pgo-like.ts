/**
 * Test support: a PostgreSQL cluster laid out as Crunchy PGO v5 lays out a PostgresCluster, made from pgchaos's member
 * image (neither PGO nor its images can be pulled here), for `--attach` to run against on a real cluster. What
 * `--attach` reads of it, and what makes PGO differ from Spilo for a run, is PGO's:
 *
 * - pods labelled `postgres-operator.crunchydata.com/cluster=<c>` and `.../instance`, Patroni's role label
 *   `postgres-operator.crunchydata.com/role`, its scope `<c>-ha` (scope label `.../patroni`), the database container
 *   `database` whose command is Patroni itself, a sidecar beside it, and one process namespace for the pod's
 *   containers (shareProcessNamespace);
 * - Patroni's state in Endpoints: `<c>-ha` (no selector) holds the leader lock and the leader's address;
 *   `<c>-primary` is headless, without a selector, and its Endpoints (the operator's) hold `<c>-ha`'s ClusterIP;
 * - PostgreSQL takes TLS connections only (pg_hba hostssl, a host line rejecting the rest), and Patroni's REST API is
 *   served over TLS and asks a client certificate of unsafe requests (verify_client: optional);
 * - the application user `<c>`, owner of database `<c>`, not a superuser, in the Secret `<c>-pguser-<c>` (user,
 *   password, dbname), created by the "operator" (the test) once the cluster is up.
 *
 * Where it differs from PGO: one StatefulSet of 3 pods (PGO makes one StatefulSet per instance, so the instance label
 * differs per pod; `--attach` reads only that it is there), a self-signed certificate instead of PGO's CA, no
 * pgBackRest.
 */
import { stringify as toYaml } from "yaml";
import type { KubernetesObject, V1Container, V1StatefulSet } from "@kubernetes/client-node";
import type { HaProfile } from "../../stack/patroni/profiles.ts";
import { patroniYaml, renderManifests } from "./manifests.ts";

export interface PgoLikeInput {
  cluster: string;
  namespace: string;
  image: string;
  profile: HaProfile;
  passwords: { superuser: string; replication: string; rewind: string };
  /** The application user's password (the Secret <c>-pguser-<c>). */
  appPassword: string;
  /** A certificate and its key, PEM, for PostgreSQL and Patroni's REST API (and as the CA of client certificates). */
  tls: { crt: string; key: string };
}

const PGO = "postgres-operator.crunchydata.com";
export const PGO_LABELS = (cluster: string) => ({ [`${PGO}/cluster`]: cluster, [`${PGO}/patroni`]: `${cluster}-ha` });
const TLS_DIR = "/pgconf/tls";

/** The objects, in apply order; the Endpoints of `<c>-primary` need `<c>-ha`'s ClusterIP (pgoPrimaryEndpoints), once it has one. */
export function pgoLikeObjects(i: PgoLikeInput): KubernetesObject[] {
  const name = `${i.cluster}-instance1`;
  const m = renderManifests({ name, namespace: i.namespace, replicas: 3, profile: i.profile, image: i.image, leaderLabelValue: "master", passwords: i.passwords, runId: "fixture", serviceType: "ClusterIP" });
  const selector = PGO_LABELS(i.cluster);
  const podLabels = { ...selector, [`${PGO}/instance`]: name, [`${PGO}/instance-set`]: "instance1", [`${PGO}/data`]: "postgres" };
  const meta = (n: string) => ({ name: n, namespace: i.namespace, labels: { [`${PGO}/cluster`]: i.cluster } });

  const yml = patroniYaml({ name: `${i.cluster}-ha`, profile: i.profile }) as { postgresql: { parameters: Record<string, unknown>; pg_hba: string[] } };
  yml.postgresql.parameters = { ...yml.postgresql.parameters, ssl: "on", ssl_cert_file: `${TLS_DIR}/tls.crt`, ssl_key_file: `${TLS_DIR}/tls.key` };
  yml.postgresql.pg_hba = [
    "local all all trust",
    "hostssl replication replicator 0.0.0.0/0 scram-sha-256",
    "hostssl all all 0.0.0.0/0 scram-sha-256",
    "host all all 0.0.0.0/0 reject",
  ];

  const sts = m.statefulSet as V1StatefulSet;
  const podSpec = sts.spec!.template.spec!;
  const c0 = podSpec.containers[0]!;
  const setEnv: Record<string, string> = {
    PATRONI_SCOPE: `${i.cluster}-ha`,
    PATRONI_KUBERNETES_LABELS: JSON.stringify({ [`${PGO}/cluster`]: i.cluster }),
    PATRONI_KUBERNETES_SCOPE_LABEL: `${PGO}/patroni`,
    PATRONI_KUBERNETES_ROLE_LABEL: `${PGO}/role`,
    PATRONI_KUBERNETES_LEADER_LABEL_VALUE: "master",
    PATRONI_KUBERNETES_USE_ENDPOINTS: "true",
  };
  const env = [
    ...(c0.env ?? []).map((e) => (setEnv[e.name] !== undefined ? { name: e.name, value: setEnv[e.name] } : e)),
    { name: "PATRONI_RESTAPI_CERTFILE", value: `${TLS_DIR}/tls.crt` },
    { name: "PATRONI_RESTAPI_KEYFILE", value: `${TLS_DIR}/tls.key` },
    { name: "PATRONI_RESTAPI_CAFILE", value: `${TLS_DIR}/tls.crt` },
    { name: "PATRONI_RESTAPI_VERIFY_CLIENT", value: "optional" },
    // Patroni's own REST calls to its peers (and patronictl) present this certificate.
    { name: "PATRONI_CTL_CERTFILE", value: `${TLS_DIR}/tls.crt` },
    { name: "PATRONI_CTL_KEYFILE", value: `${TLS_DIR}/tls.key` },
    { name: "PATRONI_CTL_INSECURE", value: "true" },
  ];
  const database: V1Container = {
    ...c0,
    name: "database",
    // PGO's command: Patroni, the container's main process.
    command: ["patroni", "$(PATRONI_CONFIG)"],
    env,
    readinessProbe: { ...c0.readinessProbe, httpGet: { ...c0.readinessProbe!.httpGet!, scheme: "HTTPS" } },
    volumeMounts: [...(c0.volumeMounts ?? []), { name: "tls", mountPath: TLS_DIR, readOnly: true }],
  };
  // A sidecar sharing the process namespace, as PGO's replication-cert-copy and pgbackrest are.
  const sidecar: V1Container = { name: "replication-cert-copy", image: i.image, imagePullPolicy: "IfNotPresent", command: ["sleep", "infinity"], securityContext: c0.securityContext, resources: { requests: { cpu: "10m", memory: "16Mi" } } };
  const statefulSet: V1StatefulSet = {
    ...sts,
    metadata: meta(name),
    spec: {
      ...sts.spec!,
      serviceName: `${i.cluster}-pods`,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: podLabels },
        spec: {
          ...podSpec,
          shareProcessNamespace: true,
          schedulingGates: undefined,
          containers: [database, sidecar],
          volumes: [...(podSpec.volumes ?? []).map((v) => (v.configMap ? { ...v, configMap: { name: `${i.cluster}-config` } } : v)), { name: "tls", secret: { secretName: `${i.cluster}-cluster-cert`, defaultMode: 0o640 } }],
          affinity: { ...podSpec.affinity, podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: selector }, topologyKey: "kubernetes.io/hostname" }] } },
          topologySpreadConstraints: undefined,
        },
      },
      volumeClaimTemplates: sts.spec!.volumeClaimTemplates!.map((v) => ({ ...v, metadata: { name: v.metadata?.name, labels: { [`${PGO}/cluster`]: i.cluster } } })),
    },
  };
  const pg = { name: "postgres", port: 5432, protocol: "TCP" };
  return [
    { ...m.serviceAccount, metadata: meta(name) },
    {
      ...m.role,
      metadata: meta(name),
      rules: [...(m.role.rules ?? []), { apiGroups: [""], resources: ["endpoints"], verbs: ["create", "get", "list", "patch", "update", "watch", "delete", "deletecollection"] }, { apiGroups: [""], resources: ["services"], verbs: ["create"] }],
    } as KubernetesObject,
    { ...m.roleBinding, metadata: meta(name) },
    { ...m.secret, metadata: meta(m.secret.metadata!.name!) },
    { apiVersion: "v1", kind: "Secret", metadata: meta(`${i.cluster}-cluster-cert`), type: "Opaque", stringData: { "tls.crt": i.tls.crt, "tls.key": i.tls.key } } as KubernetesObject,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { ...meta(`${i.cluster}-pguser-${i.cluster}`), labels: { [`${PGO}/cluster`]: i.cluster, [`${PGO}/pguser`]: i.cluster } },
      type: "Opaque",
      stringData: { user: i.cluster, password: i.appPassword, dbname: i.cluster, host: `${i.cluster}-primary.${i.namespace}.svc`, port: "5432" },
    } as KubernetesObject,
    { apiVersion: "v1", kind: "ConfigMap", metadata: meta(`${i.cluster}-config`), data: { "patroni.yml": toYaml(yml) } } as KubernetesObject,
    { apiVersion: "v1", kind: "Service", metadata: meta(`${i.cluster}-pods`), spec: { clusterIP: "None", publishNotReadyAddresses: true, selector, ports: [{ ...pg, targetPort: 5432 }] } } as KubernetesObject,
    // Patroni writes these Endpoints (the leader's address, the leader lock), with its default port name.
    { apiVersion: "v1", kind: "Service", metadata: meta(`${i.cluster}-ha`), spec: { type: "ClusterIP", ports: [{ name: "postgresql", port: 5432, targetPort: 5432, protocol: "TCP" }] } } as KubernetesObject,
    { apiVersion: "v1", kind: "Service", metadata: meta(`${i.cluster}-primary`), spec: { clusterIP: "None", ports: [{ ...pg, targetPort: 5432 }] } } as KubernetesObject,
    { apiVersion: "v1", kind: "Service", metadata: meta(`${i.cluster}-replicas`), spec: { type: "ClusterIP", selector: { ...selector, [`${PGO}/role`]: "replica" }, ports: [{ ...pg, targetPort: 5432 }] } } as KubernetesObject,
    statefulSet as KubernetesObject,
  ];
}

/** The operator's Endpoints of `<c>-primary`: `<c>-ha`'s ClusterIP, through which clients reach the leader. */
export function pgoPrimaryEndpoints(i: Pick<PgoLikeInput, "cluster" | "namespace">, haClusterIp: string): KubernetesObject {
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: `${i.cluster}-primary`, namespace: i.namespace, labels: { [`${PGO}/cluster`]: i.cluster } },
    subsets: [{ addresses: [{ ip: haClusterIp }], ports: [{ name: "postgres", port: 5432, protocol: "TCP" }] }],
  } as KubernetesObject;
}

/** What the operator does once the cluster is up: the application user and its database, by psql on the leader's socket. */
export function pgoUserSql(cluster: string, password: string): string[] {
  return [`CREATE ROLE "${cluster}" LOGIN PASSWORD '${password.replace(/'/g, "''")}'`, `CREATE DATABASE "${cluster}" OWNER "${cluster}"`];
}
