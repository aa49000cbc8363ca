/**
 * `--attach <selector or cluster name>`: a PostgreSQL cluster an operator already runs, found from the operator's
 * own labels instead of deployed, as data. Pure: from pod, Service and Endpoints lists (as the API returns them)
 * to the members, their roles and the primary Service, and the plan of what a run against it would create (a
 * schema of ours with the probe tables, dropped afterwards) and never do (delete anything it did not create).
 *
 * Conventions, as the operators write them:
 * - Zalando postgres-operator (Spilo): pods labelled `application=spilo`, `cluster-name=<cluster>`; Patroni sets
 *   `spilo-role` (`master`, `replica`; Patroni 4 may say `primary`). The primary Service is named `<cluster>`:
 *   without a selector, its Endpoints written by Patroni with the leader's address (with
 *   kubernetes_use_configmaps, a selector on `spilo-role=master`). Each pod's `status` annotation is Patroni's.
 * - Crunchy PGO v5: pods labelled `postgres-operator.crunchydata.com/cluster=<cluster>` and `.../instance=<instance>`
 *   (a pgBackRest repo host and backup jobs carry the cluster label too, not the instance one); Patroni sets
 *   `postgres-operator.crunchydata.com/role` (`master`, `replica`). `<cluster>-primary` is a headless Service
 *   without a selector whose Endpoints hold the ClusterIP of `<cluster>-ha`, the Service whose Endpoints Patroni
 *   writes with the leader's address.
 * - CloudNativePG: pods labelled `cnpg.io/cluster=<cluster>`, `cnpg.io/podRole=instance` (jobs and poolers carry
 *   other podRoles); the operator sets `cnpg.io/instanceRole` (`primary`, `replica`; before 1.24 only the now
 *   deprecated `role`). `<cluster>-rw` selects `cnpg.io/instanceRole=primary`. The Cluster's
 *   `status.currentPrimary` names the primary; there is no Patroni.
 *
 * A role label can be stale (the old primary keeps `master` while it cannot reach the API server; CloudNativePG
 * relabels after a failover) or missing (a pod that just started): where the operator's authority is known (the
 * leader lock's holder, Patroni's own `status` annotation, the Cluster's `status.currentPrimary`), it wins, and
 * the difference is reported.
 */

import type { FaultSpec } from "../../faults/spec.ts";
import type { DbCredentials } from "../types.ts";

export type OperatorName = "spilo" | "pgo" | "cnpg";

export const OPERATOR_NAMES: readonly OperatorName[] = ["spilo", "pgo", "cnpg"];

export interface Operator {
  name: OperatorName;
  title: string;
  /** Label naming the cluster a pod belongs to. */
  clusterLabel: string;
  /** The label selector of the cluster's database pods (not jobs, poolers or backup repositories). */
  memberSelector(cluster: string): string;
  /** Label the role is in, and its values for the primary and the replicas. */
  roleLabel: string;
  primaryValues: readonly string[];
  replicaValues: readonly string[];
  /** Older labels that carried the same role, read when the current one is missing. */
  legacyRoleLabels?: readonly string[];
  /** The Service clients write through. */
  primaryService(cluster: string): string;
  /** Whether Patroni runs in the pods (its REST API, its `status` annotation); without it (CloudNativePG) roles come from the operator's Cluster. */
  patroni: boolean;
  /** The database pod's container that runs PostgreSQL (and Patroni): where kills and pauses are signalled. */
  container: string;
  /**
   * The Secret the operator writes with credentials that may create a schema in the database clients use, its keys,
   * and the database when the Secret names none.
   */
  credentials: { secret(cluster: string): string; userKey: string; passwordKey: string; databaseKey?: string; database(cluster: string): string };
  /** What the container's PID 1 is, which the kernel spares a SIGKILL sent from inside the container: what a pod kill becomes there. */
  init: string;
  /** PostgreSQL takes TLS connections only (pg_hba hostssl): clients connect with TLS, the certificate not verified (see credentialsFromSecret). */
  tls?: boolean;
  /** Faults this operator's cluster refuses an attached run, and why (a fault kind: the reason). */
  refuses?: Readonly<Record<string, string>>;
}

export const OPERATORS: Readonly<Record<OperatorName, Operator>> = {
  spilo: {
    name: "spilo",
    title: "Zalando postgres-operator (Spilo)",
    clusterLabel: "cluster-name",
    memberSelector: (c) => `application=spilo,cluster-name=${c}`,
    roleLabel: "spilo-role",
    primaryValues: ["master", "primary"],
    replicaValues: ["replica"],
    primaryService: (c) => c,
    patroni: true,
    container: "postgres",
    // The superuser's Secret (the operator names it <user>.<cluster>.credentials.postgresql.acid.zalan.do).
    credentials: { secret: (c) => `postgres.${c}.credentials.postgresql.acid.zalan.do`, userKey: "username", passwordKey: "password", database: () => "postgres" },
    init: "dumb-init, which exits once its child (Spilo's launch script) has died: the kubelet then restarts the container in the same pod (restartCount goes up; kills in a row meet CrashLoopBackOff)",
  },
  pgo: {
    name: "pgo",
    title: "Crunchy Postgres for Kubernetes (PGO v5)",
    clusterLabel: "postgres-operator.crunchydata.com/cluster",
    memberSelector: (c) => `postgres-operator.crunchydata.com/cluster=${c},postgres-operator.crunchydata.com/instance`,
    roleLabel: "postgres-operator.crunchydata.com/role",
    primaryValues: ["master", "primary"],
    replicaValues: ["replica"],
    primaryService: (c) => `${c}-primary`,
    patroni: true,
    container: "database",
    // The default user's Secret: a user named after the cluster, owner of a database of that name.
    credentials: { secret: (c) => `${c}-pguser-${c}`, userKey: "user", passwordKey: "password", databaseKey: "dbname", database: (c) => c },
    init: "the pod's pause process (PGO shares one process namespace between the pod's containers), so only the database container's processes are signalled; its command is Patroni, which dies with them, and the kubelet restarts the container",
    tls: true,
    refuses: Object.fromEntries(
      ["switchover", "failover", "drain", "rolling-restart"].map((k) => [
        k,
        "PGO's Patroni REST API asks a client certificate of its own CA for every request that changes something (verify_client: optional), and PGO's own way is a change to the PostgresCluster (spec.patroni.switchover), which an attached run never makes",
      ]),
    ),
  },
  cnpg: {
    name: "cnpg",
    title: "CloudNativePG",
    clusterLabel: "cnpg.io/cluster",
    memberSelector: (c) => `cnpg.io/cluster=${c},cnpg.io/podRole=instance`,
    roleLabel: "cnpg.io/instanceRole",
    primaryValues: ["primary"],
    replicaValues: ["replica"],
    legacyRoleLabels: ["role"],
    primaryService: (c) => `${c}-rw`,
    patroni: false,
    container: "postgres",
    // The application user's Secret: owner of the application database.
    credentials: { secret: (c) => `${c}-app`, userKey: "username", passwordKey: "password", databaseKey: "dbname", database: () => "app" },
    init: "the instance manager (`/controller/manager instance run`), which exits once PostgreSQL has died: the kubelet then restarts the container in the same pod",
    refuses: {
      "patroni-kill": "CloudNativePG runs no Patroni: its instance manager is the container's PID 1, which no signal from inside the container can kill (postgres-kill and kill are what there is)",
      "pause:patroni": "CloudNativePG runs no Patroni, and its instance manager is the container's PID 1, which no signal from inside the container can stop: pause PostgreSQL (part postgres) or the whole member instead",
      ...Object.fromEntries(
        ["switchover", "failover", "drain", "rolling-restart"].map((k) => [
          k,
          "CloudNativePG's own way is a change to the Cluster (its status.targetPrimary, as `kubectl cnpg promote` sets it), and an attached run never changes the operator's objects",
        ]),
      ),
    },
  },
};

/** The operator of that name, or why there is none (a usage error: exit 2). */
export function operatorNamed(name: string): Operator | { problem: string } {
  const o = (OPERATORS as Record<string, Operator>)[name.toLowerCase()];
  return o ?? { problem: `unknown operator "${name}": --operator takes ${OPERATOR_NAMES.map((n) => `${n} (${OPERATORS[n].title})`).join(", ")}` };
}

/** The parts of a pod, a Service and an Endpoints object this reads (V1Pod, V1Service, V1Endpoints fit). */
export interface PodLike {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: Date | string };
  spec?: { nodeName?: string };
  status?: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }> };
}
export interface ServiceLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { selector?: Record<string, string>; clusterIP?: string; type?: string };
}
export interface EndpointsLike {
  metadata?: { name?: string; annotations?: Record<string, string> };
  subsets?: Array<{ addresses?: Array<{ ip: string; targetRef?: { kind?: string; name?: string } }> }>;
}

/** A label selector as the API takes it (`k=v`, `k`, comma-separated) tested against labels. */
export function matchesSelector(selector: string, labels: Record<string, string> = {}): boolean {
  return selector
    .split(",")
    .map((r) => r.trim())
    .filter(Boolean)
    .every((r) => {
      const ne = r.indexOf("!=");
      if (ne >= 0) return labels[r.slice(0, ne)] !== r.slice(ne + 2);
      const eq = r.indexOf("=");
      if (eq < 0) return r.startsWith("!") ? !(r.slice(1) in labels) : r in labels;
      return labels[r.slice(0, eq).trim()] === r.slice(eq + 1).replace(/^=/, "").trim();
    });
}

/**
 * What an operator's `refuses` is looked up by: each fault's kind, and `kind:part` for a fault on one part of a member
 * (`pause:patroni`).
 */
export function faultKeys(faults: readonly FaultSpec[]): string[] {
  const part = (f: FaultSpec) => ("part" in f && f.part !== "all" ? f.part : undefined);
  return [...new Set(faults.flatMap((f) => [f.kind, ...(part(f) ? [`${f.kind}:${part(f)}`] : [])]))];
}

/** Why the operator's cluster refuses each of the fault keys it refuses (faultKeys): `the K fault: why`, `a pause of patroni alone: why`. */
export function refusedFaults(operator: Pick<Operator, "refuses">, keys: readonly string[]): string[] {
  const what = (k: string) => (k.includes(":") ? `a ${k.split(":")[0]} of ${k.split(":")[1]} alone` : `the ${k} fault`);
  return [...new Set(keys)].filter((k) => operator.refuses?.[k]).map((k) => `${what(k)}: ${operator.refuses![k]}`);
}

/** What `--attach X` names: a label selector (it has `=`, or is a bare key list), or a cluster's name. */
export function parseAttachTarget(arg: string): { selector: string } | { cluster: string } | { problem: string } {
  const a = arg.trim();
  if (a === "") return { problem: "--attach needs a cluster name or a label selector" };
  if (a.includes("=") || a.includes(",")) return { selector: a };
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(a)) return { problem: `--attach "${arg}" is neither a cluster name (a DNS name) nor a label selector (key=value,...)` };
  return { cluster: a };
}

/** Which operator's labels the pods carry, and the cluster they name; a problem when none or several. */
export function detectOperator(pods: readonly PodLike[]): { operator: Operator; cluster: string } | { problem: string } {
  const found = new Map<string, { operator: Operator; cluster: string }>();
  for (const p of pods) {
    const l = p.metadata?.labels ?? {};
    for (const o of Object.values(OPERATORS)) {
      const cluster = l[o.clusterLabel];
      if (cluster && matchesSelector(o.memberSelector(cluster), l)) found.set(`${o.name}/${cluster}`, { operator: o, cluster });
    }
  }
  if (found.size === 1) return [...found.values()][0]!;
  if (found.size === 0) {
    return {
      problem:
        `none of the ${pods.length} pods carries the labels of a known operator's database pods (${Object.values(OPERATORS)
          .map((o) => `${o.title}: ${o.memberSelector("<cluster>")}`)
          .join("; ")})`,
    };
  }
  return { problem: `the pods belong to several clusters (${[...found.keys()].join(", ")}): name one, or give --operator` };
}

export type AttachRole = "leader" | "replica" | "unknown";

export interface AttachedMember {
  name: string;
  role: AttachRole;
  /** The role label's value as found ("" when missing). */
  label: string;
  ip?: string;
  node?: string;
  /** running, starting (not ready yet), stopping (being deleted), or the pod's phase in lower case. */
  state: string;
  /** Why the label was not taken as the role. */
  note?: string;
}

/** What decides who leads, where it is known: the leader lock's holder (Patroni), or the Cluster's status.currentPrimary (CloudNativePG). */
export interface RoleAuthority {
  leader?: string;
  /** Where it came from, for notes: "the leader lock (Endpoints acid-minimal-cluster)", "Cluster status.currentPrimary". */
  source: string;
}

/** A pod's state for a member: stopping while deleted, its phase until it runs, then running once Ready. */
export function podState(p: PodLike): string {
  if (p.metadata?.deletionTimestamp) return "stopping";
  const phase = p.status?.phase ?? "Unknown";
  if (phase !== "Running") return phase.toLowerCase();
  const ready = p.status?.conditions?.find((c) => c.type === "Ready")?.status;
  return ready === "True" ? "running" : "starting";
}

function labelRole(o: Operator, labels: Record<string, string>): { value: string; role: AttachRole } {
  let value = labels[o.roleLabel];
  if (value === undefined) for (const l of o.legacyRoleLabels ?? []) value ??= labels[l];
  value ??= "";
  if (o.primaryValues.includes(value)) return { value, role: "leader" };
  if (o.replicaValues.includes(value)) return { value, role: "replica" };
  return { value, role: "unknown" };
}

/** Patroni's own view of a member, from the pod's `status` annotation. */
function patroniRole(p: PodLike): AttachRole | undefined {
  try {
    const st = JSON.parse(p.metadata?.annotations?.status ?? "") as { role?: string };
    if (st.role === "master" || st.role === "primary" || st.role === "standby_leader") return "leader";
    if (st.role === "replica" || st.role === "sync_standby") return "replica";
  } catch {
    // No annotation, or not Patroni's.
  }
  return undefined;
}

export interface AttachedCluster {
  operator: OperatorName;
  cluster: string;
  members: AttachedMember[];
  /** The leader, when exactly one member is it. */
  leader?: string;
  /** What a run should know before trusting the roles (stale or missing labels, two primaries, no primary). */
  problems: string[];
}

/**
 * Members and roles of `cluster` from its pods. The role is the operator's authority where given (the leader lock
 * or status.currentPrimary; for Patroni operators each pod's own `status` annotation otherwise), else the label;
 * every disagreement and every missing label is noted.
 */
export function attachedMembers(o: Operator, cluster: string, pods: readonly PodLike[], authority?: RoleAuthority): AttachedCluster {
  const mine = pods.filter((p) => p.metadata?.name && matchesSelector(o.memberSelector(cluster), p.metadata.labels)).sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  const problems: string[] = [];
  const members = mine.map((p): AttachedMember => {
    const name = p.metadata!.name!;
    const byLabel = labelRole(o, p.metadata?.labels ?? {});
    const byPatroni = o.patroni ? patroniRole(p) : undefined;
    const base = { name, label: byLabel.value, ip: p.status?.podIP, node: p.spec?.nodeName, state: podState(p) };
    if (authority?.leader !== undefined) {
      const role: AttachRole = name === authority.leader ? "leader" : "replica";
      if (byLabel.role !== role) {
        const note = byLabel.value === "" ? `no ${o.roleLabel} label; ${authority.source} says ${role}` : `labelled ${o.roleLabel}=${byLabel.value}, but ${authority.source} says ${role} (a stale label)`;
        problems.push(`${name}: ${note}`);
        return { ...base, role, note };
      }
      return { ...base, role };
    }
    if (byPatroni !== undefined && byPatroni !== byLabel.role) {
      const note = byLabel.value === "" ? `no ${o.roleLabel} label; Patroni's status annotation says ${byPatroni}` : `labelled ${o.roleLabel}=${byLabel.value}, but Patroni's status annotation says ${byPatroni} (a stale label)`;
      problems.push(`${name}: ${note}`);
      return { ...base, role: byPatroni, note };
    }
    if (byLabel.role === "unknown") {
      const note = byLabel.value === "" ? `no ${o.roleLabel} label` : `${o.roleLabel}=${byLabel.value} is not a role ${o.title} sets`;
      problems.push(`${name}: ${note}, and nothing else says its role`);
      return { ...base, role: "unknown", note };
    }
    return { ...base, role: byLabel.role };
  });
  const leaders = members.filter((m) => m.role === "leader").map((m) => m.name);
  if (leaders.length > 1) problems.push(`${leaders.length} members are primaries (${leaders.join(", ")}): a split brain, or labels not updated yet`);
  if (members.length > 0 && leaders.length === 0) problems.push("no member is the primary");
  return { operator: o.name, cluster, members, leader: leaders.length === 1 ? leaders[0] : undefined, problems };
}

/** The primary Service and how it routes, or why it cannot be used. */
export type PrimaryServiceFinding =
  | { service: string; routes: "selector"; selector: Record<string, string> }
  | { service: string; routes: "endpoints" }
  | { problem: string };

/**
 * The operator's primary Service of `cluster` among `services`: its name by the operator's convention, and how it
 * routes (a selector on the primary's role label; or Endpoints written by Patroni or the operator). A selector that
 * does not select the primary's role is refused: writes through it could land on a replica.
 */
export function primaryServiceOf(o: Operator, cluster: string, services: readonly ServiceLike[]): PrimaryServiceFinding {
  const name = o.primaryService(cluster);
  const svc = services.find((s) => s.metadata?.name === name);
  if (!svc) return { problem: `${o.title} names the primary Service of ${cluster} "${name}", and there is no such Service` };
  const sel = svc.spec?.selector;
  if (!sel || Object.keys(sel).length === 0) return { service: name, routes: "endpoints" };
  const roleLabels = [o.roleLabel, ...(o.legacyRoleLabels ?? [])];
  if (!roleLabels.some((l) => sel[l] !== undefined && o.primaryValues.includes(sel[l]!))) {
    return { problem: `Service ${name} selects ${Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(",")}, not the primary's ${o.roleLabel}: writes through it could reach a replica` };
  }
  return { service: name, routes: "selector", selector: sel };
}

/**
 * The pods a Service routes to now: by its selector (Ready pods carrying it), or by its Endpoints' addresses, each
 * an IP of a pod or the ClusterIP of another Service, followed (PGO's `<cluster>-primary` points at `<cluster>-ha`).
 */
export function podsBehindService(
  name: string,
  world: { services: readonly ServiceLike[]; endpoints: readonly EndpointsLike[]; pods: readonly PodLike[] },
  depth = 0,
): string[] {
  const svc = world.services.find((s) => s.metadata?.name === name);
  if (!svc || depth > 3) return [];
  const sel = svc.spec?.selector;
  if (sel && Object.keys(sel).length > 0) {
    return world.pods
      .filter((p) => Object.entries(sel).every(([k, v]) => p.metadata?.labels?.[k] === v) && podState(p) === "running")
      .map((p) => p.metadata!.name!)
      .sort();
  }
  const ep = world.endpoints.find((e) => e.metadata?.name === name);
  const out = new Set<string>();
  for (const a of (ep?.subsets ?? []).flatMap((s) => s.addresses ?? [])) {
    if (a.targetRef?.kind === "Pod" && a.targetRef.name) {
      out.add(a.targetRef.name);
      continue;
    }
    const pod = world.pods.find((p) => p.status?.podIP === a.ip);
    if (pod?.metadata?.name) {
      out.add(pod.metadata.name);
      continue;
    }
    const next = world.services.find((s) => s.spec?.clusterIP === a.ip && s.metadata?.name !== name);
    if (next?.metadata?.name) for (const p of podsBehindService(next.metadata.name, world, depth + 1)) out.add(p);
  }
  return [...out].sort();
}

/** What an attached run creates, changes and never does: the only things it may remove are in `creates`. */
export interface AttachPlan {
  operator: OperatorName;
  namespace: string;
  cluster: string;
  /** The schema of ours the probe tables live in (the writes go there through the primary Service). */
  schema: string;
  /** In order; each is ours, and only these are dropped afterwards. */
  creates: Array<{ kind: "schema" | "table"; name: string; sql: string }>;
  /** In order, at the end of the run: RESTRICT, so that anything someone else put in our schema stops the drop rather than going with it. */
  drops: string[];
  /** The probes' sessions use our schema first. */
  sessionOptions: string;
  /** What the run does to the operator's objects, none of which it removes. */
  touches: string[];
  never: string[];
}

export function attachPlan(o: { runId: string; operator: OperatorName; namespace: string; cluster: string }): AttachPlan {
  if (!/^[a-z0-9]{4,16}$/.test(o.runId)) throw new Error(`run id "${o.runId}" cannot name a schema`);
  const schema = `pgchaos_${o.runId}`;
  return {
    operator: o.operator,
    namespace: o.namespace,
    cluster: o.cluster,
    schema,
    creates: [
      // Fails if it exists: a schema of that name is not ours.
      { kind: "schema", name: schema, sql: `CREATE SCHEMA ${schema}` },
      { kind: "table", name: `${schema}.pgchaos_writes`, sql: `CREATE TABLE ${schema}.pgchaos_writes (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())` },
      {
        kind: "table",
        name: `${schema}.pgchaos_node_probe`,
        sql: `CREATE TABLE ${schema}.pgchaos_node_probe (node text NOT NULL, seq bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (node, seq))`,
      },
    ],
    drops: [`DROP TABLE ${schema}.pgchaos_node_probe, ${schema}.pgchaos_writes RESTRICT`, `DROP SCHEMA ${schema} RESTRICT`],
    sessionOptions: `-c search_path=${schema}`,
    touches: [
      `reads pods, Services, Endpoints and ConfigMaps of ${o.cluster} in namespace ${o.namespace}, and the Secret ${OPERATORS[o.operator].credentials.secret(o.cluster)} for the credentials it writes with`,
      OPERATORS[o.operator].patroni
        ? "execs into the members' database containers to signal their processes (SIGKILL, SIGSTOP, SIGCONT) and to ask Patroni's REST API (switchover, failover): the pods stay, and what died is restarted by the operator's image or the kubelet"
        : "reads the operator's Cluster, and execs into the members' database containers to signal their processes (SIGKILL, SIGSTOP, SIGCONT), to ask each PostgreSQL its role and timeline (psql on the local socket as the container's user, as `kubectl cnpg psql` does) and the instance manager its version: the pods stay, and what died is restarted by the kubelet",
      "port-forwards to the members' pods and writes through the primary Service's pod into its own schema",
    ],
    never: [
      "deletes, evicts, patches or scales a pod, StatefulSet, Service, Endpoints, Secret, PersistentVolumeClaim or the operator's custom resource",
      "drops or changes anything outside its own schema",
      "cordons, drains or powers off a node",
    ],
  };
}

/** An action an attached run is about to take. */
export type AttachAction =
  | { op: "create" | "drop"; kind: "schema" | "table"; name: string }
  | { op: "exec"; pod: string }
  | { op: "delete" | "evict" | "patch"; kind: string; name: string };

/**
 * Throws unless the plan allows `action`: creating and dropping what the plan creates, an exec into a member's
 * pod. Every removal of anything else, and every delete, eviction or patch of a Kubernetes object, is refused.
 */
export function assertAttachAllows(plan: AttachPlan, members: readonly string[], action: AttachAction): void {
  if (action.op === "exec") {
    if (members.includes(action.pod)) return;
    throw new Error(`an attached run execs only into the members of ${plan.cluster} (${members.join(", ")}), not into ${action.pod}`);
  }
  if (action.op === "create" || action.op === "drop") {
    if (plan.creates.some((c) => c.kind === action.kind && c.name === action.name)) return;
    throw new Error(`an attached run ${action.op}s only what it creates (${plan.creates.map((c) => c.name).join(", ")}), not ${action.kind} ${action.name}`);
  }
  throw new Error(`an attached run never ${action.op}s anything of the operator's (${action.kind} ${action.name}): it did not create it`);
}

/** The parts of a V1Secret this reads. */
export interface SecretLike {
  metadata?: { name?: string };
  data?: Record<string, string>;
}

/**
 * The credentials an attached run writes with, from the operator's Secret (`data`, base64 as the API returns it), or
 * what is missing from it. The schema of the run goes on the search path through `options` (attachPlan sessionOptions).
 */
export function credentialsFromSecret(
  o: Operator,
  cluster: string,
  secret: SecretLike,
  options: string,
): (DbCredentials & { options: string }) | { problem: string } {
  const c = o.credentials;
  const name = secret.metadata?.name ?? c.secret(cluster);
  const read = (key: string) => {
    const v = secret.data?.[key];
    return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
  };
  const user = read(c.userKey);
  const password = read(c.passwordKey);
  const missing = [user === undefined && c.userKey, password === undefined && c.passwordKey].filter(Boolean);
  if (missing.length > 0) return { problem: `Secret ${name} has no ${missing.join(" or ")} key, where ${o.title} keeps the credentials` };
  const database = (c.databaseKey ? read(c.databaseKey) : undefined) || c.database(cluster);
  // TLS through a port-forward to 127.0.0.1, which no certificate names: encrypted, not verified (the tunnel itself
  // is the API server's authenticated connection).
  return { user: user!, password: password!, database, options, ...(o.tls ? { ssl: { rejectUnauthorized: false } } : {}) };
}
