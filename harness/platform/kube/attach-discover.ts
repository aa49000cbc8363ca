/**
 * `--attach`: finding an operator's cluster through the API (attach.ts decides from what this reads). Read-only:
 * pods, Services, Endpoints and ConfigMaps of the namespace, and CloudNativePG's Cluster.
 */
import type { KubeClients } from "./client.ts";
import { lockHolder } from "./targets.ts";
import { apiMessage, isNotFound, statusOf } from "./client.ts";
import {
  attachedMembers,
  detectOperator,
  matchesSelector,
  OPERATORS,
  podsBehindService,
  primaryServiceOf,
  refusedFaults,
  type AttachedCluster,
  type Operator,
  type PodLike,
  type PrimaryServiceFinding,
  type RoleAuthority,
} from "./attach.ts";

export interface AttachDiscovery {
  namespace: string;
  operator: Operator;
  cluster: AttachedCluster;
  primary: PrimaryServiceFinding;
  /** The pods the primary Service routes to now. */
  primaryPods: string[];
  authority?: RoleAuthority;
}

/** Patroni's scope on a cluster of this operator: its objects are named after it (PGO's is <cluster>-ha). */
export const patroniScope = (o: Operator, cluster: string) => (o.name === "pgo" ? `${cluster}-ha` : cluster);

/**
 * Patroni's leader or sync object of `cluster` and its annotations: the Endpoints named after the scope (Spilo's
 * default, PGO) or the `<scope>-leader` / `<scope>-sync` ConfigMap (kubernetes_use_configmaps), the first that carries
 * the lock. One that exists without it (the ConfigMap, or Endpoints Patroni renewed) says nobody holds it: empty
 * annotations. Undefined when none says anything (not found, not readable, or the Endpoints of a Service with a
 * selector): the labels decide then.
 */
export async function patroniLock(
  c: Pick<KubeClients, "core">,
  namespace: string,
  o: Operator,
  cluster: string,
  kind: "leader" | "sync",
): Promise<{ annotations: Record<string, string>; source: string } | undefined> {
  const scope = patroniScope(o, cluster);
  const tries: Array<{ source: string; read: () => Promise<{ metadata?: { annotations?: Record<string, string> } }> }> = [
    { source: `Endpoints ${kind === "leader" ? scope : `${scope}-sync`}`, read: () => c.core.readNamespacedEndpoints({ name: kind === "leader" ? scope : `${scope}-sync`, namespace }) },
    { source: `ConfigMap ${scope}-${kind}`, read: () => c.core.readNamespacedConfigMap({ name: `${scope}-${kind}`, namespace }) },
  ];
  let empty: string | undefined;
  for (const t of tries) {
    try {
      const a = (await t.read()).metadata?.annotations ?? {};
      if (a.leader !== undefined || a.sync_standby !== undefined) return { annotations: a, source: t.source };
      // The Endpoints of a Service with a selector carry no lock and are not Patroni's; Patroni's own say renewTime.
      if (t.source.startsWith("ConfigMap") || a.renewTime !== undefined) empty ??= t.source;
    } catch (e) {
      // Not there, or not readable by this user (Endpoints forbidden, ConfigMaps not): the next may say. Anything
      // else (the API server failing) is said.
      if (!isNotFound(e) && ![401, 403].includes(statusOf(e) ?? 0)) throw e;
    }
  }
  return empty ? { annotations: {}, source: empty } : undefined;
}

/** CloudNativePG's Cluster named `cluster` (postgresql.cnpg.io/v1), as the API returns it. */
export async function readCnpgCluster(c: KubeClients, namespace: string, cluster: string): Promise<unknown> {
  return c.objects.read({ apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster", metadata: { name: cluster, namespace } });
}

/** Who leads by the operator's authority: the leader lock's holder (Patroni), or the Cluster's status.currentPrimary (CloudNativePG). */
export async function roleAuthority(c: KubeClients, o: Operator, namespace: string, cluster: string, now = Date.now()): Promise<RoleAuthority | undefined> {
  if (o.name === "cnpg") {
    let cr: unknown;
    try {
      cr = await readCnpgCluster(c, namespace, cluster);
    } catch (e) {
      if (isNotFound(e) || [401, 403].includes(statusOf(e) ?? 0)) return undefined;
      throw e;
    }
    const primary = (cr as { status?: { currentPrimary?: string } } | undefined)?.status?.currentPrimary;
    return primary ? { leader: primary, source: "the Cluster's status.currentPrimary" } : undefined;
  }
  const lock = await patroniLock(c, namespace, o, cluster, "leader");
  return lock?.annotations.leader ? { leader: lockHolder(lock.annotations, now), source: `the leader lock (${lock.source})` } : undefined;
}

/**
 * The cluster `--attach` names in `namespace`, with `--operator` if given: its members and roles, its primary
 * Service and the pods behind it; or why not (no pods, no operator's labels, several clusters), for an exit 2.
 */
export async function discoverAttached(
  c: KubeClients,
  opts: { namespace: string; target: { selector: string } | { cluster: string }; operator?: Operator },
): Promise<AttachDiscovery | { problem: string }> {
  const { namespace } = opts;
  const candidates = opts.operator ? [opts.operator] : Object.values(OPERATORS);
  const selectors = "selector" in opts.target ? [opts.target.selector] : candidates.map((o) => o.memberSelector((opts.target as { cluster: string }).cluster));
  let pods: PodLike[] = [];
  try {
    for (const labelSelector of selectors) pods.push(...(await c.core.listNamespacedPod({ namespace, labelSelector })).items);
  } catch (e) {
    return { problem: `cannot list pods in namespace ${namespace}: ${apiMessage(e)}` };
  }
  pods = [...new Map(pods.map((p) => [p.metadata?.name, p])).values()];
  if (pods.length === 0) {
    return { problem: `no pods in namespace ${namespace} match ${selectors.map((s) => `"${s}"`).join(" or ")}: is the cluster in another namespace (--namespace), or named otherwise?` };
  }
  let candidatesPods = pods;
  if (opts.operator) {
    const op = opts.operator;
    candidatesPods = pods.filter((p) => {
      const cl = p.metadata?.labels?.[op.clusterLabel];
      return cl !== undefined && matchesSelector(op.memberSelector(cl), p.metadata?.labels);
    });
    if (candidatesPods.length === 0) {
      return { problem: `${pods.length} pods in namespace ${namespace} match, but none is a database pod of ${op.title} (${op.memberSelector("<cluster>")})` };
    }
  }
  const found = detectOperator(candidatesPods);
  if ("problem" in found) return { problem: `${pods.length} pods in namespace ${namespace} match, but ${found.problem}` };
  const { operator, cluster } = found;
  try {
    const authority = await roleAuthority(c, operator, namespace, cluster);
    const attached = attachedMembers(operator, cluster, pods, authority);
    const [services, endpoints] = await Promise.all([c.core.listNamespacedService({ namespace }), c.core.listNamespacedEndpoints({ namespace })]);
    const primary = primaryServiceOf(operator, cluster, services.items);
    const primaryPods = "service" in primary ? podsBehindService(primary.service, { services: services.items, endpoints: endpoints.items, pods }) : [];
    return { namespace, operator, cluster: attached, primary, primaryPods, authority };
  } catch (e) {
    return { problem: `reading ${operator.title}'s cluster ${cluster} in namespace ${namespace}: ${apiMessage(e)}` };
  }
}

/** What was found, for the terminal. */
export function describeDiscovery(d: AttachDiscovery): string[] {
  const lines = [`${d.operator.title} cluster ${d.cluster.cluster} in namespace ${d.namespace}:`];
  for (const m of d.cluster.members) lines.push(`  ${m.name.padEnd(28)} ${m.role.padEnd(8)} ${m.state.padEnd(9)} ${m.node ?? ""}${m.note ? `  (${m.note})` : ""}`);
  lines.push(
    "service" in d.primary
      ? `  primary Service ${d.primary.service} (${d.primary.routes === "selector" ? "selector" : "Endpoints"}) routes to ${d.primaryPods.join(", ") || "no pod"}`
      : `  primary Service: ${d.primary.problem}`,
  );
  if (d.authority) lines.push(`  roles by ${d.authority.source}${d.authority.leader ? `: ${d.authority.leader} leads` : ": nobody holds it"}`);
  for (const p of d.cluster.problems) lines.push(`  note: ${p}`);
  return lines;
}

export interface AttachArgs {
  attach: string;
  operator?: string;
  context?: string;
  kubeconfig?: string;
  namespace?: string;
}

/**
 * `--attach`'s options resolved: the target, the operator named, the context's clients and the namespace (--namespace,
 * else the context's, else default). With `checkApiServer`, the context's API server is asked first. Throws a
 * UsageError or EnvironmentError (exit 2) saying what is wrong.
 */
export async function resolveAttach(
  o: AttachArgs,
  checkApiServer = false,
): Promise<{ target: { selector: string } | { cluster: string }; operator?: Operator; kc: import("@kubernetes/client-node").KubeConfig; clients: KubeClients; namespace: string }> {
  const { UsageError, EnvironmentError } = await import("../../util/errors.ts");
  const { operatorNamed, parseAttachTarget } = await import("./attach.ts");
  let operator: Operator | undefined;
  if (o.operator !== undefined) {
    const named = operatorNamed(o.operator);
    if ("problem" in named) throw new UsageError(named.problem);
    operator = named;
  }
  const target = parseAttachTarget(o.attach);
  if ("problem" in target) throw new UsageError(target.problem);
  if (!o.context) throw new UsageError("--attach needs --context NAME, the kubeconfig context of the operator's cluster (`kubectl config get-contexts` lists them)");
  const { contextProblems, loadContext } = await import("./context.ts");
  if (checkApiServer) {
    const problems = await contextProblems({ context: o.context, kubeconfig: o.kubeconfig });
    if (problems.length > 0) throw new EnvironmentError(`--attach ${o.attach}: ${problems.join("; ")}`);
  }
  const loaded = await loadContext({ context: o.context, kubeconfig: o.kubeconfig });
  if ("problem" in loaded) throw new EnvironmentError(loaded.problem);
  const namespace = o.namespace ?? loaded.kc.getContextObject(o.context)?.namespace ?? "default";
  const { makeClients } = await import("./client.ts");
  return { target, operator, kc: loaded.kc, clients: makeClients({ kubeConfig: loaded.kc }), namespace };
}

/**
 * `--attach X` as far as the CLI takes it before the run: the options checked (operator, target, context), the
 * context's API server asked, the cluster found, and the scenario's faults checked against what the operator's cluster
 * takes; the lines saying what was found. Throws a UsageError or EnvironmentError (exit 2) saying why not. Nothing is
 * created or changed.
 */
export async function checkAttach(
  o: AttachArgs & {
    /** The scenario's faults as attach.ts faultKeys gives them: one the operator's cluster refuses is refused here (exit 2). */
    faults?: readonly string[];
  },
): Promise<string[]> {
  const { UsageError, EnvironmentError } = await import("../../util/errors.ts");
  const { target, operator, clients, namespace } = await resolveAttach(o, true);
  const d = await discoverAttached(clients, { namespace, target, operator });
  if ("problem" in d) throw new EnvironmentError(`--attach ${o.attach}: ${d.problem}`);
  const lines = describeDiscovery(d);
  const refused = refusedFaults(d.operator, o.faults ?? []);
  if (refused.length > 0) {
    throw new UsageError(`--attach: ${d.operator.title} cluster ${d.cluster.cluster} in namespace ${d.namespace} cannot take this scenario:\n  ${refused.join("\n  ")}\n${lines.join("\n")}`);
  }
  return lines;
}
