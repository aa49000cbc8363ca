import { describe, expect, it } from "vitest";
import { validateObject } from "./openapi-validate.ts";
import { retryAfterOf } from "./client.ts";
import { backoffMs, cordonPatch, decideEviction, DEFAULT_EVICTION_POLICY, drainPlan, evictionBody, evictWithRetry, type EvictionAnswer } from "./eviction.ts";

const ctx = (attempt: number, elapsedMs: number) => ({ pod: "pg-1", namespace: "pgchaos-ab12cd", attempt, elapsedMs });

describe("eviction retry policy", () => {
  it("is done on 201 (evicted) and on 404 (already gone)", () => {
    expect(decideEviction({ status: 201 }, ctx(1, 0))).toEqual({ action: "done", outcome: "evicted" });
    expect(decideEviction({ status: 200 }, ctx(1, 0))).toEqual({ action: "done", outcome: "evicted" });
    expect(decideEviction({ status: 404, message: 'pods "pg-1" not found' }, ctx(3, 1000))).toEqual({ action: "done", outcome: "already-gone" });
  });

  it("retries a PodDisruptionBudget's 429 with exponential backoff, capped, honouring Retry-After", () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, DEFAULT_EVICTION_POLICY))).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    expect(backoffMs(1, DEFAULT_EVICTION_POLICY, 3)).toBe(3000);
    // The cap is ours; a server that asks for 20 s gets 20 s, not 5.
    expect(backoffMs(1, DEFAULT_EVICTION_POLICY, 20)).toBe(20_000);
    expect(backoffMs(6, DEFAULT_EVICTION_POLICY, 1)).toBe(5000);
    const d = decideEviction({ status: 429, message: "Cannot evict pod as it would violate the pod's disruption budget." }, ctx(2, 700));
    expect(d).toEqual({ action: "retry", afterMs: 1000, reason: expect.stringContaining("PodDisruptionBudget refused the eviction of pod pgchaos-ab12cd/pg-1") });
  });

  it("waits what Retry-After asks, and fails at once when that wait would pass the deadline", () => {
    expect(decideEviction({ status: 429, retryAfterSeconds: 30 }, ctx(1, 0))).toMatchObject({ action: "retry", afterMs: 30_000 });
    expect(decideEviction({ status: 429, retryAfterSeconds: 30 }, ctx(2, 100_000)).action).toBe("fail");
  });

  it("reads Retry-After from the API server's answer: the header, or the Status body's details", () => {
    expect(retryAfterOf({ code: 429, headers: { "retry-after": "10", "content-type": "application/json" } })).toBe(10);
    expect(retryAfterOf({ code: 429, headers: { "Retry-After": "7" } })).toBe(7);
    expect(retryAfterOf({ code: 429, headers: {}, body: JSON.stringify({ kind: "Status", code: 429, details: { retryAfterSeconds: 4 } }) })).toBe(4);
    expect(retryAfterOf({ code: 429, headers: {}, body: { details: { retryAfterSeconds: 0 } } })).toBeUndefined();
    expect(retryAfterOf({ code: 429, headers: { "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" } })).toBeUndefined();
    expect(retryAfterOf(new Error("socket hang up"))).toBeUndefined();
  });

  it("fails a 429 once the next wait would pass the deadline, saying how long and why", () => {
    const d = decideEviction({ status: 429, message: "would violate the pod's disruption budget" }, ctx(30, 118_000));
    expect(d.action).toBe("fail");
    expect(d.action === "fail" && d.error).toMatch(/eviction of pod pgchaos-ab12cd\/pg-1 still refused after 118\.0 s and 30 attempts: its PodDisruptionBudget allows no disruption/);
  });

  it("fails at once on anything else, with a clear message", () => {
    const msg = (a: EvictionAnswer) => {
      const d = decideEviction(a, ctx(1, 0));
      return d.action === "fail" ? d.error : `not a failure: ${JSON.stringify(d)}`;
    };
    expect(msg({ status: 403, message: "forbidden" })).toMatch(/not allowed \(HTTP 403\).*"create" on pods\/eviction/);
    expect(msg({ status: 500, message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support." })).toMatch(/more than one PodDisruptionBudget selects it/);
    expect(msg({ status: 500, message: "etcdserver: request timed out" })).toBe("eviction of pod pgchaos-ab12cd/pg-1 failed with HTTP 500: etcdserver: request timed out");
    expect(msg({ status: 422 })).toBe("eviction of pod pgchaos-ab12cd/pg-1 failed with HTTP 422");
  });
});

describe("evictWithRetry", () => {
  const clock = () => {
    let t = 0;
    const slept: number[] = [];
    return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept };
  };

  it("retries 429s until the budget allows the eviction", async () => {
    const c = clock();
    const answers: EvictionAnswer[] = [{ status: 429 }, { status: 429 }, { status: 201 }];
    const r = await evictWithRetry({ pod: "pg-1", namespace: "ns" }, async () => answers.shift()!, c);
    expect(r).toEqual({ outcome: "evicted", attempts: 3 });
    expect(c.slept).toEqual([500, 1000]);
  });

  it("treats a pod that vanished meanwhile as done", async () => {
    const c = clock();
    const answers: EvictionAnswer[] = [{ status: 429 }, { status: 404 }];
    expect(await evictWithRetry({ pod: "pg-1", namespace: "ns" }, async () => answers.shift()!, c)).toEqual({ outcome: "already-gone", attempts: 2 });
  });

  it("gives up at the deadline with the PodDisruptionBudget named", async () => {
    const c = clock();
    let calls = 0;
    await expect(
      evictWithRetry({ pod: "pg-1", namespace: "ns" }, async () => (calls++, { status: 429 }), { ...c, policy: { ...DEFAULT_EVICTION_POLICY, deadlineMs: 10_000 } }),
    ).rejects.toThrow(/PodDisruptionBudget allows no disruption/);
    expect(c.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10_000);
    expect(calls).toBe(c.slept.length + 1);
  });

  it("does not retry a failure", async () => {
    let calls = 0;
    await expect(evictWithRetry({ pod: "pg-1", namespace: "ns" }, async () => (calls++, { status: 403 }), clock())).rejects.toThrow(/HTTP 403/);
    expect(calls).toBe(1);
  });
});

describe("drain plan", () => {
  const sts = { name: "pg", namespace: "pgchaos-ab12cd" };
  const owner = { kind: "StatefulSet", name: "pg" };
  const pods = [
    { name: "pg-2", namespace: sts.namespace, nodeName: "pgchaos-worker2", owner },
    { name: "pg-0", namespace: sts.namespace, nodeName: "pgchaos-worker", owner },
    { name: "coredns-abc", namespace: "kube-system", nodeName: "pgchaos-worker2", owner: { kind: "ReplicaSet", name: "coredns" } },
    { name: "pg-9", namespace: "other", nodeName: "pgchaos-worker2", owner },
  ];

  it("cordons, evicts and awaits only our StatefulSet's pods on the node, and uncordons at heal", () => {
    expect(drainPlan("pgchaos-worker2", pods, sts)).toEqual({
      inject: [
        { op: "cordon", node: "pgchaos-worker2" },
        { op: "evict", pod: "pg-2", namespace: sts.namespace },
        { op: "await-gone", pod: "pg-2", namespace: sts.namespace },
      ],
      heal: [{ op: "uncordon", node: "pgchaos-worker2" }],
    });
    expect(drainPlan("pgchaos-worker3", pods, sts).inject).toEqual([{ op: "cordon", node: "pgchaos-worker3" }]);
  });

  it("renders a valid policy/v1 Eviction and the cordon patches", () => {
    validateObject(evictionBody("pg-2", sts.namespace));
    expect(cordonPatch(true)).toEqual([{ op: "add", path: "/spec/unschedulable", value: true }]);
    expect(cordonPatch(false)[0]!.value).toBe(false);
  });
});
