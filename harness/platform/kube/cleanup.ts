/**
 * `--cleanup --platform kind|minikube`: removes what crashed or killed runs left in a Kubernetes cluster.
 * Nothing is recorded on the machine running the harness: every object a run creates or changes carries
 * marks in the cluster itself (the namespace's owner and whether the run created the cluster; a node's
 * cordon or power-off by a run), so the plan is made from the cluster alone.
 */
import { hostname } from "node:os";
import { processExists } from "../../util/pid.ts";
import type { Logger } from "pino";
import { apiMessage, awaitNamespaceGone, requestNamespaceDeletion, statusOf, type KubeClients } from "./client.ts";
import { EnvironmentError } from "../../util/errors.ts";
import { cordonPatch } from "./eviction.ts";
import { RUN_MARK_PREFIX } from "./namespace.ts";

export const MARKS = {
  ownerHost: "pgchaos.io/owner-host",
  ownerPid: "pgchaos.io/owner-pid",
  /** "true" on the namespace of a run that created the cluster itself (and so would have deleted it). */
  createdCluster: "pgchaos.io/created-cluster",
  /** On a node a drain fault cordoned: the run id. */
  cordonedBy: "pgchaos.io/cordoned-by",
  /** On a node whose container a node-failure fault killed: the run id. */
  failedBy: "pgchaos.io/failed-by",
  run: "pgchaos.io/run",
  /** On the ConfigMap a run leaves in a namespace of the user's (namespace.ts runMarkName): its run id. */
  runMark: "pgchaos.io/run-mark",
} as const;

export const MANAGED_SELECTOR = "app.kubernetes.io/managed-by=pgchaos";

/** Annotations a run puts on its namespace. */
export function ownerAnnotations(createdCluster: boolean, pid = process.pid, host = hostname()): Record<string, string> {
  return { [MARKS.ownerHost]: host, [MARKS.ownerPid]: String(pid), [MARKS.createdCluster]: String(createdCluster) };
}

export type JsonPatchOp = { op: "add"; path: string; value: unknown } | { op: "remove"; path: string };

const pointer = (key: string) => `/metadata/annotations/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;

/** JSON patch that sets (`value`) or removes (undefined) one annotation, given the object's current annotations. */
export function annotationOps(current: Record<string, string> | undefined, key: string, value?: string): JsonPatchOp[] {
  if (value === undefined) return current && key in current ? [{ op: "remove", path: pointer(key) }] : [];
  if (!current) return [{ op: "add", path: "/metadata/annotations", value: { [key]: value } }];
  return [{ op: "add", path: pointer(key), value }];
}

export interface MarkedObject {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeCleanupPlan {
  /** The cluster was created by a run that is gone (and no live run uses it): delete it whole. */
  deleteCluster: boolean;
  namespaces: string[];
  /** Namespaces of runs that may still be alive, with why they are left alone. */
  skipped: Array<{ namespace: string; why: string }>;
  /** Nodes to uncordon (cordoned by a run that is gone). */
  uncordon: string[];
  /** Nodes whose container to start again (powered off by a run that is gone). */
  boot: string[];
}

/**
 * What to remove. A namespace is left alone while its owner process lives on this host, or when it belongs to
 * another host (it cannot be checked from here), unless `force`. Node marks of live runs are left too.
 */
export function kubeCleanupPlan(input: {
  namespaces: readonly MarkedObject[];
  nodes: readonly MarkedObject[];
  host: string;
  alive: (pid: number) => boolean;
  force?: boolean;
  /** Runs known to be alive besides those of the namespaces (runs in a namespace of the user's): their node marks stay. */
  liveRuns?: Iterable<string>;
}): KubeCleanupPlan {
  const plan: KubeCleanupPlan = { deleteCluster: false, namespaces: [], skipped: [], uncordon: [], boot: [] };
  const liveRuns = new Set<string>(input.liveRuns ?? []);
  const stale: MarkedObject[] = [];
  for (const ns of input.namespaces) {
    const a = ns.annotations ?? {};
    const host = a[MARKS.ownerHost];
    const pid = Number(a[MARKS.ownerPid]);
    let why: string | undefined;
    if (!input.force) {
      if (host !== undefined && host !== input.host) why = `its run belongs to host ${host}, which cannot be checked from here (use --force)`;
      else if (host === input.host && Number.isInteger(pid) && pid > 0 && pid !== process.pid && input.alive(pid)) why = `its pgchaos process ${pid} is alive (use --force)`;
    }
    if (why) {
      plan.skipped.push({ namespace: ns.name, why });
      const run = ns.labels?.[MARKS.run];
      if (run) liveRuns.add(run);
    } else {
      stale.push(ns);
    }
  }
  plan.namespaces = stale.map((n) => n.name);
  plan.deleteCluster = plan.skipped.length === 0 && stale.some((n) => n.annotations?.[MARKS.createdCluster] === "true");
  for (const node of input.nodes) {
    const cordonedBy = node.annotations?.[MARKS.cordonedBy];
    const failedBy = node.annotations?.[MARKS.failedBy];
    if (cordonedBy !== undefined && !liveRuns.has(cordonedBy)) plan.uncordon.push(node.name);
    if (failedBy !== undefined && !liveRuns.has(failedBy)) plan.boot.push(node.name);
  }
  return plan;
}

export interface KubeCleanupTarget {
  platform: string;
  /** Clients for the cluster, or undefined when there is no cluster. */
  existingClients(): Promise<KubeClients | undefined>;
  /** Starts a stopped node container (no-op when it runs). */
  bootNode(nodeName: string): Promise<void>;
  deleteCluster(log: Logger): Promise<void>;
  /** A namespace of the user's that runs were given (`--namespace`): their objects are cleaned up there, run by run. */
  namespace?: string;
  /** Deletes one run's objects in a namespace it did not create. */
  deleteRunObjects?(c: KubeClients, namespace: string, runId: string): Promise<void>;
}

export interface KubeCleanupReport {
  cluster: "absent" | "deleted" | "kept";
  namespaces: string[];
  /** Runs whose objects were deleted in the user's namespace (`--namespace`), and that namespace. */
  runs: string[];
  runsNamespace?: string;
  /** What was left alone: a run namespace, or a run in the user's namespace (`run`). */
  skipped: Array<{ namespace: string; run?: string; why: string }>;
  /** What could not be looked at, and why (a user with rights in one namespace only). */
  notes?: string[];
  uncordoned: string[];
  booted: string[];
}

/** Carries out kubeCleanupPlan on the platform's cluster. */
export async function cleanupKube(target: KubeCleanupTarget, opts: { force?: boolean; log: Logger }): Promise<KubeCleanupReport> {
  const report: KubeCleanupReport = { cluster: "absent", namespaces: [], runs: [], skipped: [], uncordoned: [], booted: [] };
  const c = await target.existingClients();
  if (!c) return report;
  report.cluster = "kept";
  const toMarked = (o: { metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> } }): MarkedObject => ({
    name: o.metadata?.name ?? "",
    labels: o.metadata?.labels,
    annotations: o.metadata?.annotations,
  });
  // Runs in a namespace of the user's, by the marks each left there (namespace.ts runMarkName); judged as namespaces are.
  const liveRuns: string[] = [];
  if (target.namespace && target.deleteRunObjects) {
    const ns = target.namespace;
    try {
      await c.core.readNamespace({ name: ns });
    } catch (e) {
      if (statusOf(e) === 404) throw new EnvironmentError(`namespace ${ns} does not exist in the ${target.platform} cluster: check --namespace`);
      // 403: a user who may not read namespaces may still list ConfigMaps in their own.
    }
    let marks: MarkedObject[];
    try {
      marks = (await c.core.listNamespacedConfigMap({ namespace: ns, labelSelector: MARKS.runMark })).items.map(toMarked);
    } catch (e) {
      throw new EnvironmentError(`cannot look for runs in namespace ${ns}: ${apiMessage(e)} (cleanup lists ConfigMaps there, and deletes a crashed run's objects)`);
    }
    const runs = kubeCleanupPlan({ namespaces: marks, nodes: [], host: hostname(), alive: processExists, force: opts.force });
    const runOf = (mark: string) => marks.find((m) => m.name === mark)?.labels?.[MARKS.runMark] ?? mark.slice(RUN_MARK_PREFIX.length);
    for (const s of runs.skipped) {
      report.skipped.push({ namespace: ns, run: runOf(s.namespace), why: s.why });
      liveRuns.push(runOf(s.namespace));
    }
    for (const mark of runs.namespaces) {
      const runId = runOf(mark);
      await target.deleteRunObjects(c, ns, runId);
      report.runs.push(runId);
      report.runsNamespace = ns;
    }
  }
  // A user with rights in one namespace may not list namespaces or nodes: what they cannot see, they did not make.
  const listed = async <T>(what: string, list: () => Promise<T[]>): Promise<T[]> => {
    try {
      return await list();
    } catch (e) {
      if (!target.namespace || statusOf(e) !== 403) throw e;
      (report.notes ??= []).push(`could not list ${what} (${apiMessage(e)}): run namespaces and node marks were not looked at`);
      return [];
    }
  };
  const namespaces = await listed("namespaces", async () => (await c.core.listNamespace({ labelSelector: MANAGED_SELECTOR })).items.map(toMarked));
  const nodes = await listed("nodes", async () => (await c.core.listNode()).items.map(toMarked));
  const plan = kubeCleanupPlan({ namespaces, nodes, host: hostname(), alive: processExists, force: opts.force, liveRuns });
  report.skipped.push(...plan.skipped);

  // Dead nodes first: pods bound to them would keep their namespace terminating forever.
  for (const name of plan.boot) {
    await target.bootNode(name);
    const node = nodes.find((n) => n.name === name);
    await c.core.patchNode({ name, body: annotationOps(node?.annotations, MARKS.failedBy) }).catch((e) => opts.log.warn({ name, err: apiMessage(e) }, "could not remove the failed-by mark"));
    report.booted.push(name);
  }
  if (plan.deleteCluster) {
    await target.deleteCluster(opts.log);
    report.cluster = "deleted";
    report.namespaces = plan.namespaces;
    return report;
  }
  for (const name of plan.uncordon) {
    const node = nodes.find((n) => n.name === name);
    await c.core.patchNode({ name, body: [...cordonPatch(false), ...annotationOps(node?.annotations, MARKS.cordonedBy)] });
    report.uncordoned.push(name);
  }
  for (const name of plan.namespaces) {
    await requestNamespaceDeletion(c, name);
    report.namespaces.push(name);
  }
  for (const name of report.namespaces) await awaitNamespaceGone(c, name, `the ${target.platform} cluster`);
  return report;
}

/** One line for the CLI. */
export function describeKubeCleanup(platform: string, r: KubeCleanupReport): string[] {
  const out = [
    ...(r.notes ?? []),
    ...r.skipped.map((s) => (s.run ? `left run ${s.run} in namespace ${s.namespace} alone: ${s.why}` : `left namespace ${s.namespace} alone: ${s.why}`)),
  ];
  if (r.cluster === "absent") return [...out, `no ${platform} cluster of pgchaos's to clean up`];
  if (r.booted.length > 0) out.push(`started node container(s) again: ${r.booted.join(", ")}`);
  if (r.cluster === "deleted") return [...out, `deleted the ${platform} cluster a crashed run had created (namespaces ${r.namespaces.join(", ") || "none"})`];
  if (r.uncordoned.length > 0) out.push(`uncordoned: ${r.uncordoned.join(", ")}`);
  if (r.runs.length > 0) out.push(`deleted the objects of crashed run(s) ${r.runs.join(", ")} in namespace ${r.runsNamespace ?? "?"}`);
  if (r.namespaces.length > 0) out.push(`deleted namespace(s): ${r.namespaces.join(", ")}`);
  else if (r.runs.length === 0) out.push(`nothing to clean up in the ${platform} cluster`);
  return out;
}
