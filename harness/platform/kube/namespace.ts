/**
 * `--namespace NS`: a run in a namespace that exists already (on a shared cluster a user may only have one), as
 * data. The run does not own the namespace, so it neither creates nor deletes it: before applying anything it
 * makes sure no other pgchaos cluster lives there (two would share Patroni's scope and its ConfigMaps), and at
 * teardown it deletes, kind by kind, only the objects that carry its run label, and the ConfigMaps Patroni made
 * for its scope (found absent before the run, so they are the run's). Pure: the cluster code carries these out.
 */
import { MARKS } from "./cleanup.ts";
import { patroniLabels } from "./manifests.ts";

export interface RunObjects {
  apiVersion: string;
  kind: string;
  labelSelector: string;
  /** Why these are the run's. */
  why: string;
}

/**
 * The ConfigMap a run makes in a namespace it did not create, carrying its owner marks (cleanup.ts ownerAnnotations) and
 * its run id under MARKS.runMark (not the run label, nor Patroni's scope labels): `--cleanup --namespace NS` tells a
 * crashed run's objects from a live run's by it, and a second run is refused while it exists. Teardown deletes it last,
 * so that what a failed teardown leaves is still marked.
 */
export const RUN_MARK_PREFIX = "pgchaos-run-";
export const runMarkName = (runId: string) => `${RUN_MARK_PREFIX}${runId}`;

export const selectorOf = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

/** Why a pgchaos cluster of scope `scope` cannot be made in `namespace`, from what is found there; undefined when it can. */
export function namespaceClaimProblem(namespace: string, scope: string, found: { pods: readonly string[]; configMaps: readonly string[]; marks?: readonly string[] }): string | undefined {
  // Another run's mark, even alone (a run killed before its pods existed): cleanup of that run deletes the scope's ConfigMaps.
  const what = [...(found.marks ?? []).map((m) => `ConfigMap ${m} (a run's mark)`), ...found.pods.map((p) => `pod ${p}`), ...found.configMaps.map((c) => `ConfigMap ${c}`)];
  if (what.length === 0) return undefined;
  return (
    `namespace ${namespace} already holds a pgchaos cluster (${what.slice(0, 6).join(", ")}${what.length > 6 ? ", ..." : ""}, labelled ${selectorOf(patroniLabels(scope))}): ` +
    "another run's, or what a crashed run left (`--cleanup --platform kube --context NAME --namespace NS` removes a crashed run's). Two would share Patroni's scope and leader lock: use another namespace, or let the run create its own (leave out --namespace)"
  );
}

/**
 * What the run deletes at teardown in a namespace it did not create, in order (the StatefulSet first, so that its
 * pods go, and its volume claims with them; what the pods referenced last). Every selector names the run id or
 * Patroni's scope labels; nothing here deletes the namespace or anything else in it.
 */
export function runObjectsPlan(runId: string, scope: string): RunObjects[] {
  const run = `${MARKS.run}=${runId}`;
  const applied = "applied by the run (its run label)";
  return [
    { apiVersion: "apps/v1", kind: "StatefulSet", labelSelector: run, why: `${applied}; its pods go with it` },
    { apiVersion: "policy/v1", kind: "PodDisruptionBudget", labelSelector: run, why: applied },
    { apiVersion: "v1", kind: "Service", labelSelector: run, why: applied },
    { apiVersion: "v1", kind: "PersistentVolumeClaim", labelSelector: run, why: "made from the StatefulSet's claim template, which carries the run label" },
    { apiVersion: "v1", kind: "ConfigMap", labelSelector: run, why: applied },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      labelSelector: selectorOf(patroniLabels(scope)),
      why: "made by Patroni for the run's scope (leader, config, sync, failover), none of which existed before the run (namespaceClaimProblem)",
    },
    { apiVersion: "v1", kind: "Secret", labelSelector: run, why: applied },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", labelSelector: run, why: applied },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", labelSelector: run, why: applied },
    { apiVersion: "v1", kind: "ServiceAccount", labelSelector: run, why: applied },
    { apiVersion: "v1", kind: "ConfigMap", labelSelector: `${MARKS.runMark}=${runId}`, why: "the run's mark (runMarkName), last: what a failed teardown leaves stays marked" },
  ];
}
