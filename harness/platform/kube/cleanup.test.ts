import { describe, expect, it } from "vitest";
import pino from "pino";
import { annotationOps, cleanupKube, describeKubeCleanup, kubeCleanupPlan, MARKS, ownerAnnotations, type MarkedObject } from "./cleanup.ts";
import type { KubeClients } from "./client.ts";

const HOST = "ci-box";
const ns = (name: string, run: string, owner: Record<string, string>): MarkedObject => ({ name, labels: { [MARKS.run]: run, "app.kubernetes.io/managed-by": "pgchaos" }, annotations: owner });
const dead = () => false;

describe("annotationOps", () => {
  it("sets an annotation, creating the map when the object has none", () => {
    expect(annotationOps(undefined, MARKS.cordonedBy, "ab12")).toEqual([{ op: "add", path: "/metadata/annotations", value: { "pgchaos.io/cordoned-by": "ab12" } }]);
    expect(annotationOps({ other: "x" }, MARKS.cordonedBy, "ab12")).toEqual([{ op: "add", path: "/metadata/annotations/pgchaos.io~1cordoned-by", value: "ab12" }]);
  });

  it("removes only an annotation that is there (a JSON patch remove of a missing path fails)", () => {
    expect(annotationOps({ "pgchaos.io/failed-by": "ab12" }, MARKS.failedBy)).toEqual([{ op: "remove", path: "/metadata/annotations/pgchaos.io~1failed-by" }]);
    expect(annotationOps({ other: "x" }, MARKS.failedBy)).toEqual([]);
    expect(annotationOps(undefined, MARKS.failedBy)).toEqual([]);
  });
});

describe("kubeCleanupPlan", () => {
  it("deletes the namespace of a run whose process is gone, and undoes its node marks", () => {
    const plan = kubeCleanupPlan({
      namespaces: [ns("pgchaos-ab12", "ab12", ownerAnnotations(false, 4242, HOST))],
      nodes: [
        { name: "w1", annotations: { [MARKS.cordonedBy]: "ab12" } },
        { name: "w2", annotations: { [MARKS.failedBy]: "ab12" } },
        { name: "w3", annotations: {} },
      ],
      host: HOST,
      alive: dead,
    });
    expect(plan).toEqual({ deleteCluster: false, namespaces: ["pgchaos-ab12"], skipped: [], uncordon: ["w1"], boot: ["w2"] });
  });

  it("leaves a live run alone, with its cordons and stopped nodes", () => {
    const plan = kubeCleanupPlan({
      namespaces: [ns("pgchaos-live", "live", ownerAnnotations(true, 4242, HOST)), ns("pgchaos-gone", "gone", ownerAnnotations(false, 4343, HOST))],
      nodes: [
        { name: "w1", annotations: { [MARKS.cordonedBy]: "live" } },
        { name: "w2", annotations: { [MARKS.failedBy]: "gone" } },
      ],
      host: HOST,
      alive: (pid) => pid === 4242,
    });
    expect(plan.namespaces).toEqual(["pgchaos-gone"]);
    expect(plan.skipped).toEqual([{ namespace: "pgchaos-live", why: "its pgchaos process 4242 is alive (use --force)" }]);
    expect(plan.uncordon).toEqual([]);
    expect(plan.boot).toEqual(["w2"]);
    // A live run uses the cluster: it is not deleted even though a run created it.
    expect(plan.deleteCluster).toBe(false);
  });

  it("deletes the whole cluster when the run that created it is gone and nothing else runs there", () => {
    const plan = kubeCleanupPlan({ namespaces: [ns("pgchaos-ab12", "ab12", ownerAnnotations(true, 4242, HOST))], nodes: [], host: HOST, alive: dead });
    expect(plan.deleteCluster).toBe(true);
  });

  it("does not judge another host's run unless forced", () => {
    const input = { namespaces: [ns("pgchaos-ab12", "ab12", ownerAnnotations(false, 1, "laptop"))], nodes: [{ name: "w1", annotations: { [MARKS.cordonedBy]: "ab12" } }], host: HOST, alive: dead };
    const plan = kubeCleanupPlan(input);
    expect(plan.namespaces).toEqual([]);
    expect(plan.skipped[0]!.why).toMatch(/host laptop.*--force/);
    expect(plan.uncordon).toEqual([]);
    const forced = kubeCleanupPlan({ ...input, alive: () => true, force: true });
    expect(forced.namespaces).toEqual(["pgchaos-ab12"]);
    expect(forced.uncordon).toEqual(["w1"]);
  });

  it("treats a namespace without owner marks (an older run) as stale", () => {
    const plan = kubeCleanupPlan({ namespaces: [{ name: "pgchaos-old", labels: {} }], nodes: [], host: HOST, alive: () => true });
    expect(plan.namespaces).toEqual(["pgchaos-old"]);
    expect(plan.deleteCluster).toBe(false);
  });

  it("cleans a node cordoned by a run whose namespace is already gone", () => {
    const plan = kubeCleanupPlan({ namespaces: [], nodes: [{ name: "w1", annotations: { [MARKS.cordonedBy]: "zz99" } }], host: HOST, alive: dead });
    expect(plan.uncordon).toEqual(["w1"]);
  });
});

describe("describeKubeCleanup", () => {
  it("says what was done, or that there was nothing", () => {
    expect(describeKubeCleanup("kind", { cluster: "absent", namespaces: [], runs: [], skipped: [], uncordoned: [], booted: [] })).toEqual(["no kind cluster of pgchaos's to clean up"]);
    expect(describeKubeCleanup("kind", { cluster: "kept", namespaces: [], runs: [], skipped: [], uncordoned: [], booted: [] })).toEqual(["nothing to clean up in the kind cluster"]);
    expect(describeKubeCleanup("kind", { cluster: "kept", namespaces: ["pgchaos-ab12"], runs: [], skipped: [], uncordoned: ["w1"], booted: ["w2"] })).toEqual([
      "started node container(s) again: w2",
      "uncordoned: w1",
      "deleted namespace(s): pgchaos-ab12",
    ]);
  });
});

describe("cleanupKube carries the plan out in a safe order (recorded API calls: no API server can run here)", () => {
  type Obj = { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } };
  function fakeCluster(namespaces: Obj[], nodes: Obj[]) {
    const calls: string[] = [];
    const live = new Set(namespaces.map((n) => n.metadata.name));
    const core = {
      listNamespace: async () => ({ items: namespaces }),
      listNode: async () => ({ items: nodes }),
      patchNode: async ({ name, body }: { name: string; body: unknown }) => void calls.push(`patch ${name} ${JSON.stringify(body)}`),
      deleteNamespace: async ({ name }: { name: string }) => {
        calls.push(`delete ${name}`);
        live.delete(name);
      },
      readNamespace: async ({ name }: { name: string }) => {
        if (!live.has(name)) throw Object.assign(new Error("not found"), { code: 404 });
        return {};
      },
    };
    const target = {
      platform: "kind",
      existingClients: async () => ({ core }) as unknown as KubeClients,
      bootNode: async (n: string) => void calls.push(`boot ${n}`),
      deleteCluster: async () => void calls.push("delete cluster"),
    };
    return { calls, target };
  }
  const log = pino({ level: "silent" });
  const gone = ownerAnnotations(false, 2 ** 22 + 7); // a pid no process has on this machine

  it("boots the nodes a dead run powered off before deleting its namespace, and uncordons", async () => {
    const { calls, target } = fakeCluster(
      [{ metadata: { name: "pgchaos-ab12", labels: { [MARKS.run]: "ab12" }, annotations: gone } }],
      [
        { metadata: { name: "w1", annotations: { [MARKS.failedBy]: "ab12" } } },
        { metadata: { name: "w2", annotations: { [MARKS.cordonedBy]: "ab12" } } },
      ],
    );
    const r = await cleanupKube(target, { log });
    expect(calls).toEqual([
      "boot w1",
      `patch w1 ${JSON.stringify([{ op: "remove", path: "/metadata/annotations/pgchaos.io~1failed-by" }])}`,
      `patch w2 ${JSON.stringify([{ op: "add", path: "/spec/unschedulable", value: false }, { op: "remove", path: "/metadata/annotations/pgchaos.io~1cordoned-by" }])}`,
      "delete pgchaos-ab12",
    ]);
    expect(r).toMatchObject({ cluster: "kept", namespaces: ["pgchaos-ab12"], booted: ["w1"], uncordoned: ["w2"] });
  });

  it("deletes the cluster a dead run created instead of its parts", async () => {
    const { calls, target } = fakeCluster([{ metadata: { name: "pgchaos-ab12", labels: { [MARKS.run]: "ab12" }, annotations: ownerAnnotations(true, 2 ** 22 + 7) } }], []);
    expect((await cleanupKube(target, { log })).cluster).toBe("deleted");
    expect(calls).toEqual(["delete cluster"]);
  });

  /** The fake cluster with a namespace of the user's, `team-a`, holding `configMaps` (listed by label selector as the API does). */
  function withUserNamespace(configMaps: Obj[], nodes: Obj[] = [], denied: string[] = []) {
    const { calls, target } = fakeCluster([], nodes);
    const selected = (selector: string) => (o: Obj) =>
      selector.split(",").every((term) => {
        const [k, v] = term.split("=");
        return v === undefined ? o.metadata.labels?.[k!] !== undefined : o.metadata.labels?.[k!] === v;
      });
    const forbidden = () => Object.assign(new Error("forbidden"), { code: 403 });
    const core = {
      ...(target as unknown as { core: Record<string, unknown> }),
      readNamespace: async ({ name }: { name: string }) => {
        if (name !== "team-a") throw Object.assign(new Error("not found"), { code: 404 });
        return {};
      },
      listNamespacedConfigMap: async ({ namespace, labelSelector }: { namespace: string; labelSelector: string }) => ({ items: namespace === "team-a" ? configMaps.filter(selected(labelSelector)) : [] }),
      listNamespace: async () => {
        if (denied.includes("namespaces")) throw forbidden();
        return { items: [] };
      },
      listNode: async () => {
        if (denied.includes("nodes")) throw forbidden();
        return { items: nodes };
      },
      patchNode: async ({ name, body }: { name: string; body: unknown }) => void calls.push(`patch ${name} ${JSON.stringify(body)}`),
    };
    const inNamespace = {
      ...target,
      existingClients: async () => ({ core }) as unknown as KubeClients,
      namespace: "team-a",
      deleteRunObjects: async (_c: KubeClients, ns: string, run: string) => void calls.push(`delete run ${run} in ${ns}`),
    };
    return { calls, target: inNamespace };
  }
  const mark = (run: string, annotations: Record<string, string>): Obj => ({ metadata: { name: `pgchaos-run-${run}`, labels: { [MARKS.runMark]: run, "app.kubernetes.io/managed-by": "pgchaos" }, annotations } });
  const alive = ownerAnnotations(false, process.ppid);

  it("in a namespace of the user's, deletes the objects of a dead run by its mark, and leaves a live run's alone", async () => {
    const { calls, target } = withUserNamespace([
      mark("ab12", gone),
      mark("cd34", alive),
      // Not a run's mark: a ConfigMap of the user's with pgchaos's labels and a dead owner.
      { metadata: { name: "settings", labels: { [MARKS.run]: "ef56", "app.kubernetes.io/managed-by": "pgchaos" }, annotations: gone } },
    ]);
    const r = await cleanupKube(target, { log });
    expect(calls).toEqual(["delete run ab12 in team-a"]);
    expect(r.runs).toEqual(["ab12"]);
    expect(describeKubeCleanup("kube", r)).toEqual([
      `left run cd34 in namespace team-a alone: its pgchaos process ${process.ppid} is alive (use --force)`,
      "deleted the objects of crashed run(s) ab12 in namespace team-a",
    ]);
  });

  it("keeps the nodes a live run in the user's namespace cordoned, and says what a user with one namespace could not look at", async () => {
    const { calls, target } = withUserNamespace([mark("cd34", alive)], [{ metadata: { name: "w1", annotations: { [MARKS.cordonedBy]: "cd34" } } }]);
    expect((await cleanupKube(target, { log })).uncordoned).toEqual([]);
    expect(calls).toEqual([]);
    const limited = withUserNamespace([mark("ab12", gone)], [], ["namespaces", "nodes"]);
    const r = await cleanupKube(limited.target, { log });
    expect(limited.calls).toEqual(["delete run ab12 in team-a"]);
    expect(r.notes).toEqual([expect.stringMatching(/^could not list namespaces \(.*\): run namespaces and node marks were not looked at$/), expect.stringMatching(/^could not list nodes/)]);
  });

  it("refuses a namespace that does not exist, naming it", async () => {
    const { target } = withUserNamespace([]);
    await expect(cleanupKube({ ...target, namespace: "team-b" }, { log })).rejects.toThrow("namespace team-b does not exist in the kind cluster: check --namespace");
  });

  it("touches nothing when there is no cluster", async () => {
    const r = await cleanupKube({ platform: "kind", existingClients: async () => undefined, bootNode: async () => undefined, deleteCluster: async () => undefined }, { log });
    expect(r.cluster).toBe("absent");
  });
});
