/**
 * Test support: a PostgreSQL cluster laid out as the Zalando operator lays out Spilo's, made from pgchaos's member
 * image (no registry answers here, so neither Spilo's image nor the operator can be pulled), for `--attach` to find
 * and run against on a real cluster. What `--attach` reads of it is what the operator and Spilo write:
 *
 * - the StatefulSet `<cluster>`, pods labelled `application=spilo`, `cluster-name=<cluster>`, Patroni's role label
 *   `spilo-role` (`master`, `replica`), the database container named `postgres`;
 * - the operator's default layout: Patroni keeps its state in Endpoints (kubernetes.use_endpoints); the primary
 *   Service `<cluster>` has no selector, and Patroni writes its Endpoints, with the leader lock in their annotations
 *   and the leader's address; `<cluster>-repl` selects `spilo-role=replica`;
 * - the superuser's Secret `postgres.<cluster>.credentials.postgresql.acid.zalan.do` (username, password);
 * - an init as the container's PID 1 that forwards SIGTERM to Patroni and ends when Patroni ends, as Spilo's
 *   dumb-init does: a killed member's container is restarted by the kubelet.
 *
 * Nothing carries pgchaos's labels: to a run, these objects are the operator's.
 */
import type { KubernetesObject, V1Container, V1StatefulSet } from "@kubernetes/client-node";
import type { HaProfile } from "../../stack/patroni/profiles.ts";
import { renderManifests, SCOPE_LABEL } from "./manifests.ts";

export interface SpiloLikeInput {
  cluster: string;
  namespace: string;
  image: string;
  profile: HaProfile;
  passwords: { superuser: string; replication: string; rewind: string };
  replicas?: number;
}

/** The init (bash, which reaps every child, orphans included): Patroni's shutdown on SIGTERM, and its end is the container's. */
export const INIT = [
  'trap \'kill -TERM "$pid" 2>/dev/null\' TERM INT',
  'patroni "$PATRONI_CONFIG" & pid=$!',
  'rc=0; while kill -0 "$pid" 2>/dev/null; do wait "$pid"; rc=$?; done',
  'echo "init: patroni ended ($rc); the container ends with it" >&2',
  'exit "$rc"',
].join("\n");

export const SPILO_LABELS = (cluster: string) => ({ application: "spilo", [SCOPE_LABEL]: cluster });

/** The objects, in apply order. */
export function spiloLikeObjects(i: SpiloLikeInput): KubernetesObject[] {
  const m = renderManifests({
    name: i.cluster,
    namespace: i.namespace,
    replicas: i.replicas ?? 3,
    profile: i.profile,
    image: i.image,
    leaderLabelValue: "master",
    passwords: i.passwords,
    runId: "fixture",
    serviceType: "ClusterIP",
  });
  const labels = { ...SPILO_LABELS(i.cluster), team: "acid" };
  const selector = SPILO_LABELS(i.cluster);
  const meta = (name: string, extra: Record<string, string> = {}) => ({ name, namespace: i.namespace, labels: { ...labels, ...extra } });
  const relabel = <T extends KubernetesObject>(o: T, name = o.metadata?.name ?? ""): T => ({ ...o, metadata: meta(name) });

  const sts = m.statefulSet as V1StatefulSet;
  const podSpec = sts.spec!.template.spec!;
  const c0 = podSpec.containers[0]!;
  const env = (c0.env ?? []).map((e) => {
    if (e.name === "PATRONI_KUBERNETES_LABELS") return { ...e, value: JSON.stringify({ application: "spilo" }) };
    if (e.name === "PATRONI_KUBERNETES_ROLE_LABEL") return { ...e, value: "spilo-role" };
    if (e.name === "PATRONI_KUBERNETES_LEADER_LABEL_VALUE") return { ...e, value: "master" };
    if (e.name === "PATRONI_KUBERNETES_USE_ENDPOINTS") return { ...e, value: "true" };
    return e;
  });
  const container: V1Container = { ...c0, name: "postgres", command: ["/bin/bash", "-c", INIT], env };
  // Not <cluster>-config: Patroni creates a Service of that name for its config Endpoints.
  const headlessName = `${i.cluster}-pods`;
  const statefulSet: V1StatefulSet = {
    ...sts,
    metadata: meta(i.cluster),
    spec: {
      ...sts.spec!,
      serviceName: headlessName,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          ...podSpec,
          schedulingGates: undefined,
          containers: [container],
          affinity: {
            ...podSpec.affinity,
            podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: selector }, topologyKey: "kubernetes.io/hostname" }] },
          },
          topologySpreadConstraints: undefined,
        },
      },
      volumeClaimTemplates: sts.spec!.volumeClaimTemplates!.map((v) => ({ ...v, metadata: { name: v.metadata?.name, labels: { ...labels } } })),
    },
  };
  const pgPort = { name: "postgresql", port: 5432, targetPort: "postgresql", protocol: "TCP" };
  return [
    relabel(m.serviceAccount),
    {
      ...relabel(m.role),
      // Endpoints as well as ConfigMaps and pods (use_endpoints), and the <cluster>-config Service Patroni creates.
      rules: [...(m.role.rules ?? []), { apiGroups: [""], resources: ["endpoints"], verbs: ["create", "get", "list", "patch", "update", "watch", "delete", "deletecollection"] }, { apiGroups: [""], resources: ["services"], verbs: ["create"] }],
    } as KubernetesObject,
    { ...relabel(m.roleBinding) },
    relabel(m.secret),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta(`postgres.${i.cluster}.credentials.postgresql.acid.zalan.do`),
      type: "Opaque",
      stringData: { username: "postgres", password: i.passwords.superuser },
    } as KubernetesObject,
    relabel(m.configMap),
    { ...m.headless, metadata: meta(headlessName), spec: { ...m.headless.spec, selector } } as KubernetesObject,
    // No selector: Patroni writes its Endpoints (the leader's address and the leader lock), with a numbered port.
    { apiVersion: "v1", kind: "Service", metadata: meta(i.cluster, { "spilo-role": "master" }), spec: { type: "ClusterIP", ports: [{ ...pgPort, targetPort: 5432 }] } } as KubernetesObject,
    { apiVersion: "v1", kind: "Service", metadata: meta(`${i.cluster}-repl`, { "spilo-role": "replica" }), spec: { type: "ClusterIP", selector: { ...selector, "spilo-role": "replica" }, ports: [pgPort] } } as KubernetesObject,
    statefulSet as KubernetesObject,
    { ...m.pdb, metadata: meta(`postgres-${i.cluster}-pdb`), spec: { ...m.pdb.spec, selector: { matchLabels: selector } } } as KubernetesObject,
  ];
}
