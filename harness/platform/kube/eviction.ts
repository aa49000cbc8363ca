/**
 * Node drain on Kubernetes, as data and a pure retry policy: cordon the node, evict our StatefulSet's pods on
 * it through the Eviction API (policy/v1), which respects PodDisruptionBudgets, and uncordon it at heal. The
 * cluster code only carries out what these functions decide, so the decisions are unit-tested here.
 */

/** What one call to the Eviction API answered. */
export interface EvictionAnswer {
  /** HTTP status: 201 (or 200) evicted, 429 refused by a PodDisruptionBudget, 404 no such pod, ... */
  status: number;
  message?: string;
  /** Retry-After header, in seconds, when the API server sent one. */
  retryAfterSeconds?: number;
}

export interface EvictionPolicy {
  /** How long 429s are retried before the drain fails. */
  deadlineMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
}

export const DEFAULT_EVICTION_POLICY: EvictionPolicy = { deadlineMs: 120_000, initialDelayMs: 500, maxDelayMs: 5_000, factor: 2 };

export type EvictionDecision =
  | { action: "done"; outcome: "evicted" | "already-gone" }
  | { action: "retry"; afterMs: number; reason: string }
  | { action: "fail"; error: string };

export interface EvictionContext {
  pod: string;
  namespace: string;
  /** 1 for the first call. */
  attempt: number;
  /** Time since the first call. */
  elapsedMs: number;
}

/**
 * The delay before retry number `attempt` + 1: exponential and capped, but never shorter than what the API
 * server's Retry-After asks (the cap is ours, the server's wish is not); decideEviction fails instead when
 * that wait would pass the deadline.
 */
export function backoffMs(attempt: number, policy: EvictionPolicy, retryAfterSeconds?: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1));
  const asked = retryAfterSeconds !== undefined && retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : 0;
  return Math.max(exp, asked);
}

/**
 * What to do after an answer of the Eviction API: 2xx is done; 404 means the pod is already gone (done too);
 * 429 (a PodDisruptionBudget allows no disruption now) is retried with backoff until the deadline; anything
 * else fails at once with a message that names the pod and what to check.
 */
export function decideEviction(a: EvictionAnswer, ctx: EvictionContext, policy: EvictionPolicy = DEFAULT_EVICTION_POLICY): EvictionDecision {
  const pod = `pod ${ctx.namespace}/${ctx.pod}`;
  const said = a.message ? `: ${a.message}` : "";
  if (a.status === 200 || a.status === 201) return { action: "done", outcome: "evicted" };
  if (a.status === 404) return { action: "done", outcome: "already-gone" };
  if (a.status === 429) {
    const afterMs = backoffMs(ctx.attempt, policy, a.retryAfterSeconds);
    if (ctx.elapsedMs + afterMs > policy.deadlineMs) {
      return {
        action: "fail",
        error:
          `eviction of ${pod} still refused after ${(ctx.elapsedMs / 1000).toFixed(1)} s and ${ctx.attempt} attempts: ` +
          `its PodDisruptionBudget allows no disruption (another member is not ready?)${said}`,
      };
    }
    return { action: "retry", afterMs, reason: `PodDisruptionBudget refused the eviction of ${pod}${said}` };
  }
  if (a.status === 401 || a.status === 403) {
    return { action: "fail", error: `eviction of ${pod} not allowed (HTTP ${a.status}): the kubeconfig's user needs "create" on pods/eviction${said}` };
  }
  if (a.status === 500 && /more than one PodDisruptionBudget/i.test(a.message ?? "")) {
    return { action: "fail", error: `eviction of ${pod} impossible: more than one PodDisruptionBudget selects it${said}` };
  }
  return { action: "fail", error: `eviction of ${pod} failed with HTTP ${a.status}${said}` };
}

/**
 * Calls `evict` until decideEviction says done or fail. `sleep` and `now` are injected so that the loop runs
 * in tests without waiting.
 */
export async function evictWithRetry(
  target: { pod: string; namespace: string },
  evict: () => Promise<EvictionAnswer>,
  opts: { policy?: EvictionPolicy; sleep?: (ms: number) => Promise<void>; now?: () => number; onRetry?: (reason: string, afterMs: number) => void } = {},
): Promise<{ outcome: "evicted" | "already-gone"; attempts: number }> {
  const policy = opts.policy ?? DEFAULT_EVICTION_POLICY;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? (() => performance.now());
  const started = now();
  for (let attempt = 1; ; attempt++) {
    const d = decideEviction(await evict(), { ...target, attempt, elapsedMs: now() - started }, policy);
    if (d.action === "done") return { outcome: d.outcome, attempts: attempt };
    if (d.action === "fail") throw new Error(d.error);
    opts.onRetry?.(d.reason, d.afterMs);
    await sleep(d.afterMs);
  }
}

/** The Eviction object to POST to pods/<name>/eviction. */
export function evictionBody(pod: string, namespace: string): { apiVersion: "policy/v1"; kind: "Eviction"; metadata: { name: string; namespace: string } } {
  return { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace } };
}

/** JSON patch that cordons (true) or uncordons (false) a node, as `kubectl cordon` does. */
export function cordonPatch(unschedulable: boolean): Array<{ op: "add"; path: "/spec/unschedulable"; value: boolean }> {
  return [{ op: "add", path: "/spec/unschedulable", value: unschedulable }];
}

export interface PodOnNode {
  name: string;
  namespace: string;
  nodeName?: string;
  /** The owning controller, from metadata.ownerReferences. */
  owner?: { kind: string; name: string };
}

export type DrainStep =
  | { op: "cordon"; node: string }
  | { op: "evict"; pod: string; namespace: string }
  /** Waits until the evicted pod is gone (its replacement, if any, is a new pod that stays Pending while cordoned). */
  | { op: "await-gone"; pod: string; namespace: string }
  | { op: "uncordon"; node: string };

/**
 * The drain of `node` as steps: cordon, then evict and await each pod of our StatefulSet on it, in name order;
 * and the heal: uncordon. Pods of anything else on the node are left alone (a drain fault is about our
 * members), and a node with none of our pods is still cordoned, so nothing of ours lands on it meanwhile.
 */
export function drainPlan(node: string, pods: readonly PodOnNode[], statefulSet: { name: string; namespace: string }): { inject: DrainStep[]; heal: DrainStep[] } {
  const ours = pods
    .filter((p) => p.nodeName === node && p.namespace === statefulSet.namespace && p.owner?.kind === "StatefulSet" && p.owner.name === statefulSet.name)
    .map((p) => p.name)
    .sort();
  return {
    inject: [{ op: "cordon", node }, ...ours.flatMap((pod): DrainStep[] => [{ op: "evict", pod, namespace: statefulSet.namespace }, { op: "await-gone", pod, namespace: statefulSet.namespace }])],
    heal: [{ op: "uncordon", node }],
  };
}
