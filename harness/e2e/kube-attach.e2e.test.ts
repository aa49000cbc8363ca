/**
 * `--attach` through the CLI on a real cluster: a cluster laid out as the Zalando operator lays out Spilo's
 * (spilo-like.ts, made by this test and not by a run), found by its name, run against, and left as it was: the same
 * objects (uids), only the killed member's container restarted (by the kubelet), no schema of the run's in its database. It runs only when asked,
 * as kube-context.e2e.test.ts does (PGCHAOS_PLATFORM=kube, PGCHAOS_KUBE_CONTEXT, PGCHAOS_KUBE_IMAGE, KUBECONFIG:
 * `.ci/run`'s kube tier).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "./cli-run.ts";
import { contextEnvOptions } from "../platform/kube/kube.ts";
import { loadContext } from "../platform/kube/context.ts";
import { apply, awaitNamespaceGone, execInPod, makeClients, requestNamespaceDeletion, type KubeClients } from "../platform/kube/client.ts";
import { spiloLikeObjects } from "../platform/kube/spilo-like.ts";
import { getProfile } from "../stack/patroni/profiles.ts";
import { waitFor } from "../util/wait.ts";

const asked = process.env.PGCHAOS_PLATFORM === "kube";
if (!asked) console.warn("skipping --attach on a real cluster: set PGCHAOS_PLATFORM=kube, PGCHAOS_KUBE_CONTEXT and PGCHAOS_KUBE_IMAGE to run it");

describe.skipIf(!asked)("--attach to an operator's cluster (laid out as Spilo's), through the CLI", () => {
  const namespace = `attach-e2e-${process.pid}`;
  const cluster = "acid-pgchaos";
  const { context = "", image = "" } = contextEnvOptions();
  let c: KubeClients;
  let out: string;

  const pods = async () => (await c.core.listNamespacedPod({ namespace, labelSelector: `application=spilo,cluster-name=${cluster}` })).items;

  /** Every object in the namespace by kind and name, with its uid, and each container's restart count. */
  const snapshot = async () => {
    const kinds = [
      ["v1", "Pod"],
      ["v1", "Service"],
      ["v1", "Secret"],
      ["v1", "ConfigMap"],
      ["v1", "PersistentVolumeClaim"],
      ["apps/v1", "StatefulSet"],
      ["policy/v1", "PodDisruptionBudget"],
    ] as const;
    const objects: Record<string, string> = {};
    for (const [apiVersion, kind] of kinds) {
      for (const o of (await c.objects.list(apiVersion, kind, namespace)).items) objects[`${kind} ${o.metadata?.name}`] = o.metadata?.uid ?? "";
    }
    const restarts = Object.fromEntries((await pods()).map((p) => [p.metadata!.name!, p.status?.containerStatuses?.find((s) => s.name === "postgres")?.restartCount]));
    return { objects, restarts };
  };

  const schemas = async (pod: string) => {
    const r = await execInPod(c, { namespace, pod, container: "postgres" }, ["psql", "-h", "/var/run/postgresql", "-U", "postgres", "-tAc", "SELECT string_agg(nspname, ',') FROM pg_namespace WHERE nspname LIKE 'pgchaos%'"]);
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    const loaded = await loadContext({ context });
    if ("problem" in loaded) throw new Error(loaded.problem);
    c = makeClients({ kubeConfig: loaded.kc });
    out = mkdtempSync(join(tmpdir(), "pgchaos-attach-e2e-"));
    await c.core.createNamespace({ body: { metadata: { name: namespace } } });
    const pw = () => randomBytes(12).toString("hex");
    for (const o of spiloLikeObjects({ cluster, namespace, image, profile: getProfile("fast"), passwords: { superuser: pw(), replication: pw(), rewind: pw() } })) await apply(c, o);
    // The "operator's" cluster is up: three pods running, one labelled master, two replica.
    await waitFor({ condition: "the Spilo-like cluster up", where: `namespace ${namespace}`, timeoutMs: 300_000, intervalMs: 2000 }, async () => {
      const ps = await pods();
      const roles = ps.map((p) => `${p.metadata?.labels?.["spilo-role"]}/${p.status?.conditions?.find((x) => x.type === "Ready")?.status}`).sort();
      if (roles.join(" ") !== "master/True replica/True replica/True") throw new Error(`pods: ${roles.join(" ") || "none"}`);
      return true;
    });
  }, 420_000);

  afterAll(async () => {
    // The fixture is the test's: gone before the next test file deploys on the same nodes.
    if (c) {
      await requestNamespaceDeletion(c, namespace).catch(() => undefined);
      await awaitNamespaceGone(c, namespace, "the --attach e2e's namespace").catch((e: unknown) => console.error(e));
    }
    if (out) rmSync(out, { recursive: true, force: true });
  }, 240_000);

  it("refuses a partition before anything starts: the network agent would stay in the operator's pods", async () => {
    const before = await snapshot();
    const r = await cli(["primary-isolate", "--attach", cluster, "--context", context, "--namespace", namespace, "--out", out]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toMatch(/ephemeral container/);
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  it("runs primary-kill against it: a verdict, the same pods, only the killed member's container restarted, the run's schema gone", async () => {
    const before = await snapshot();
    const r = await cli(["primary-kill", "--attach", cluster, "--context", context, "--namespace", namespace, "--out", out], { timeout: 600_000 });
    // A verdict was reached (0 PASS, 1 FAIL: the stack's own behaviour is the verdict's business); not an error.
    expect([0, 1], r.all).toContain(r.exitCode);
    expect(r.stderr).toMatch(/Zalando postgres-operator \(Spilo\) cluster acid-pgchaos in namespace attach-e2e-/);
    const dir = join(out, "primary-kill", readdirSync(join(out, "primary-kill")).sort().at(-1)!);
    const verdict = JSON.parse(readFileSync(join(dir, "verdict.json"), "utf8"));
    const run = JSON.parse(readFileSync(join(dir, "scenario.json"), "utf8"));
    expect(run.settings.operator).toBe("spilo");
    expect(run.settings.schema).toMatch(/^pgchaos_[a-z0-9]+$/);
    expect(run.stack.version).toMatch(/^\d+\.\d+/);
    // Writes went through the operator's primary Service, and a member was killed.
    expect(verdict.run.writes.ok, r.all).toBeGreaterThan(50);
    const history = readFileSync(join(dir, "history.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const inject = history.find((e) => e.f === "fault" && e.value?.phase === "inject");
    expect(inject.value.nodes).toHaveLength(1);
    // Nothing of the operator's was deleted or replaced (Patroni may have written an object more: only the old are checked).
    const after = await snapshot();
    for (const [k, uid] of Object.entries(before.objects)) expect(after.objects[k], k).toBe(uid);
    // The killed member's container was restarted by the kubelet in the same pod (its init ended with Patroni), once;
    // the others' were not touched.
    const killed = inject.value.nodes[0] as string;
    expect(after.restarts).toEqual({ ...before.restarts, [killed]: (before.restarts[killed] ?? 0) + 1 });
    for (const p of await pods()) expect(await schemas(p.metadata!.name!), p.metadata!.name).toBe("");
  }, 660_000);
});
