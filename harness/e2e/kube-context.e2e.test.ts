/**
 * `--platform kube` through the CLI on a real cluster reached by context, in a namespace of the user's: a run killed
 * there leaves its objects, which `--cleanup --namespace NS` removes, touching nothing else in the namespace. It runs
 * only when asked, as kube.contract.test.ts does (PGCHAOS_PLATFORM=kube, PGCHAOS_KUBE_CONTEXT, PGCHAOS_KUBE_IMAGE,
 * KUBECONFIG: `.ci/run`'s kube tier, on a kind cluster it provisions).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, waitForOutput } from "./cli-run.ts";
import { contextEnvOptions } from "../platform/kube/kube.ts";
import { loadContext } from "../platform/kube/context.ts";
import { makeClients, type KubeClients } from "../platform/kube/client.ts";
import { runObjectsPlan } from "../platform/kube/namespace.ts";

const asked = process.env.PGCHAOS_PLATFORM === "kube";
if (!asked) console.warn("skipping the kube CLI tests on a real cluster: set PGCHAOS_PLATFORM=kube, PGCHAOS_KUBE_CONTEXT and PGCHAOS_KUBE_IMAGE to run them");

describe.skipIf(!asked)("--platform kube through the CLI, in a namespace of the user's", () => {
  const namespace = `pgchaos-user-${process.pid}`;
  const context = contextEnvOptions().context ?? "";
  let c: KubeClients;
  let out: string;

  beforeAll(async () => {
    const loaded = await loadContext({ context });
    if ("problem" in loaded) throw new Error(loaded.problem);
    c = makeClients({ kubeConfig: loaded.kc });
    out = mkdtempSync(join(tmpdir(), "pgchaos-kube-e2e-"));
    await c.core.createNamespace({ body: { metadata: { name: namespace } } });
    // Something of the user's, which no run or cleanup may touch.
    await c.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "users-settings", labels: { team: "a" } }, data: { k: "v" } } });
  });

  afterAll(async () => {
    await c?.core.deleteNamespace({ name: namespace }).catch(() => undefined);
    if (out) rmSync(out, { recursive: true, force: true });
  });

  /** Every object of the kinds a run makes, in the namespace, but the user's ConfigMap and what Kubernetes puts in every namespace. */
  const ours = async () => {
    const kinds = [...new Map(runObjectsPlan("x", "pg").map((s) => [`${s.apiVersion} ${s.kind}`, s])).values()];
    const found: string[] = [];
    for (const k of [...kinds, { apiVersion: "v1", kind: "Pod" }]) {
      const items = (await c.objects.list(k.apiVersion, k.kind, namespace)).items;
      for (const o of items) found.push(`${k.kind} ${o.metadata?.name}`);
    }
    const kubernetes = new Set(["ConfigMap users-settings", "ConfigMap kube-root-ca.crt", "ServiceAccount default"]);
    return found.filter((x) => !kubernetes.has(x)).sort();
  };

  it("a run killed there leaves its objects; --cleanup --namespace removes them and nothing of the user's", async () => {
    const child = cli(["switchover", "--platform", "kube", "--context", context, "--namespace", namespace, "--out", out]);
    await waitForOutput(child, /✓ deploy/, 300_000);
    child.kill("SIGKILL");
    await child;
    expect((await ours()).length).toBeGreaterThan(0);
    const r = await cli(["--cleanup", "--platform", "kube", "--context", context, "--namespace", namespace]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(`in namespace ${namespace}`);
    expect(r.stdout).toMatch(/deleted the objects of crashed run\(s\) \w+ in namespace /);
    expect(await ours()).toEqual([]);
    const kept = await c.core.readNamespacedConfigMap({ name: "users-settings", namespace });
    expect(kept.data).toEqual({ k: "v" });
    // Nothing is left to clean.
    const again = await cli(["--cleanup", "--platform", "kube", "--context", context, "--namespace", namespace]);
    expect(again.stdout).toMatch(/nothing to clean up in the kube cluster/);
  }, 420_000);

  it("partitions through the network agent: the isolated primary loses its peers and the clients, node probes still reach it", async () => {
    const r = await cli(["primary-isolate", "--platform", "kube", "--context", context, "--out", out], { timeout: 600_000 });
    // A verdict was reached (0 PASS, 1 FAIL: Patroni's own behaviour is the verdict's business); not an error.
    expect([0, 1], r.all).toContain(r.exitCode);
    const dir = join(out, "primary-isolate", readdirSync(join(out, "primary-isolate")).sort().at(-1)!);
    const verdict = JSON.parse(readFileSync(join(dir, "verdict.json"), "utf8"));
    const settings = JSON.parse(readFileSync(join(dir, "scenario.json"), "utf8")).settings;
    expect(settings.faultsOnKubernetes.partition).toMatch(/network agent/);
    const { failover, splitBrain } = verdict.checks;
    // Cut from its peers and the API server, the old primary loses the leader lock to a replica.
    expect(failover.primaryChanged, JSON.stringify(failover)).toBe(true);
    expect(splitBrain.valid, JSON.stringify(splitBrain)).toBe(true);
    const history = readFileSync(join(dir, "history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const inject = history.find((e) => e.f === "fault" && e.value.phase === "inject")!;
    const heal = history.find((e) => e.f === "fault" && e.value.phase === "heal")!;
    const old = failover.oldPrimary as string;
    // The clients are cut: no write through the primary service is acknowledged by the old primary seconds into the cut.
    const late = history.filter((e) => e.process === "writer" && e.type === "ok" && e.node === old && e.time > inject.time + 5000 && e.time < heal.time);
    expect(late.map((e) => e.value)).toEqual([]);
    // The node probe beside it is not: through the agent's relay it keeps getting answers during the partition (writable
    // until Patroni demotes the node, read-only after), where a cut probe would record the node unreachable.
    const beside = history.filter((e) => e.process === `probe-${old}` && e.type !== "invoke" && e.time > inject.time + 5000 && e.time < heal.time);
    const answered = beside.filter((e) => e.value?.state === "writable" || e.value?.state === "read-only");
    expect(answered.length, JSON.stringify(beside.slice(-3))).toBeGreaterThan(beside.length / 2);
    // The run's namespace went with it.
    const left = await c.core.listNamespace({ labelSelector: `pgchaos.io/run=${verdict.runId}` });
    expect(left.items.map((n) => n.metadata?.name)).toEqual([]);
  }, 660_000);
});
