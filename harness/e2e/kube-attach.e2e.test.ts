/**
 * `--attach` through the CLI on a real cluster: clusters laid out as the Zalando operator lays out Spilo's
 * (spilo-like.ts) and as Crunchy PGO lays out a PostgresCluster (pgo-like.ts), made by this test and not by a run,
 * found by name, run against, and left as they were: the same objects (uids), only the killed member's database
 * container restarted (by the kubelet; never a sidecar), no schema of the run's in the database. It runs only when
 * asked, as kube-context.e2e.test.ts does (PGCHAOS_PLATFORM=kube, PGCHAOS_KUBE_CONTEXT, PGCHAOS_KUBE_IMAGE,
 * KUBECONFIG: `.ci/run`'s kube tier).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import type { KubernetesObject, V1Pod } from "@kubernetes/client-node";
import { cli } from "./cli-run.ts";
import { contextEnvOptions } from "../platform/kube/kube.ts";
import { loadContext } from "../platform/kube/context.ts";
import { apply, awaitNamespaceGone, execInPod, makeClients, requestNamespaceDeletion, type KubeClients } from "../platform/kube/client.ts";
import { spiloLikeObjects } from "../platform/kube/spilo-like.ts";
import { pgoLikeObjects, pgoPrimaryEndpoints, pgoUserSql } from "../platform/kube/pgo-like.ts";
import { getProfile } from "../stack/patroni/profiles.ts";
import { cnpgClusterManifest } from "../platform/kube/cnpg-operator.ts";
import { readCnpgCluster } from "../platform/kube/attach-discover.ts";
import { waitFor } from "../util/wait.ts";

const asked = process.env.PGCHAOS_PLATFORM === "kube";
if (!asked) console.warn("skipping --attach on a real cluster: set PGCHAOS_PLATFORM=kube, PGCHAOS_KUBE_CONTEXT and PGCHAOS_KUBE_IMAGE to run it");

const { context = "", image = "" } = contextEnvOptions();
const pw = () => randomBytes(12).toString("hex");

interface Layout {
  operator: "spilo" | "pgo" | "cnpg";
  cluster: string;
  namespace: string;
  memberSelector: string;
  roleLabel: string;
  container: string;
  /** The database the run's schema goes into. */
  database: string;
  /** The role labels of a cluster that is up, sorted, with the pods' Ready (default: Patroni's master and two replicas). */
  upRoles?: string;
  /** PostgreSQL's socket folder in the database container (default: /var/run/postgresql). */
  socketDir?: string;
  /** Objects of the operator's own kinds, beyond the core ones, that must keep their uid. */
  extraKinds?: ReadonlyArray<readonly [string, string]>;
  /** Why the suite cannot run here, when it cannot (it then fails in CI, and is skipped elsewhere). */
  unavailable?: string;
  /** Applies the "operator's" cluster. */
  deploy(c: KubeClients): Promise<void>;
  /** What the operator does once the cluster is up. */
  afterUp?(c: KubeClients, leader: string): Promise<void>;
}

/** Every object in the namespace by kind and name, with its uid, and each container's restart count by pod. */
async function snapshot(c: KubeClients, l: Layout) {
  const kinds = [
    ["v1", "Pod"],
    ["v1", "Service"],
    ["v1", "Secret"],
    ["v1", "ConfigMap"],
    ["v1", "PersistentVolumeClaim"],
    ["apps/v1", "StatefulSet"],
    ["policy/v1", "PodDisruptionBudget"],
    ...(l.extraKinds ?? []),
  ] as const;
  const objects: Record<string, string> = {};
  for (const [apiVersion, kind] of kinds) {
    for (const o of (await c.objects.list(apiVersion, kind, l.namespace)).items) objects[`${kind} ${o.metadata?.name}`] = o.metadata?.uid ?? "";
  }
  const restarts: Record<string, number> = {};
  for (const p of await pods(c, l)) for (const s of p.status?.containerStatuses ?? []) restarts[`${p.metadata!.name} ${s.name}`] = s.restartCount;
  return { objects, restarts };
}

const pods = async (c: KubeClients, l: Layout): Promise<V1Pod[]> => (await c.core.listNamespacedPod({ namespace: l.namespace, labelSelector: l.memberSelector })).items;

function attachSuite(title: string, l: Layout, checks: (r: { dir: string; killed: string }) => Promise<void> = async () => undefined) {
  if (asked && l.unavailable && !process.env.CI) console.warn(`skipping ${title}: ${l.unavailable}`);
  describe.skipIf(!asked || (l.unavailable !== undefined && !process.env.CI))(title, () => {
    let c: KubeClients;
    let out: string;

    const psql = async (pod: string, sql: string, database = "postgres") => {
      const r = await execInPod(c, { namespace: l.namespace, pod, container: l.container }, ["psql", "-h", l.socketDir ?? "/var/run/postgresql", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", sql]);
      expect(r.exitCode, r.stderr).toBe(0);
      return r.stdout.trim();
    };

    beforeAll(async () => {
      if (l.unavailable) throw new Error(`${title} cannot run: ${l.unavailable}`);
      const loaded = await loadContext({ context });
      if ("problem" in loaded) throw new Error(loaded.problem);
      c = makeClients({ kubeConfig: loaded.kc });
      out = mkdtempSync(join(tmpdir(), "pgchaos-attach-e2e-"));
      await c.core.createNamespace({ body: { metadata: { name: l.namespace } } });
      await l.deploy(c);
      // The "operator's" cluster is up: three pods ready, one labelled master, two replica.
      const leader = await waitFor({ condition: `the ${l.operator}-like cluster up`, where: `namespace ${l.namespace}`, timeoutMs: 300_000, intervalMs: 2000 }, async () => {
        const ps = await pods(c, l);
        const roles = ps.map((p) => `${p.metadata?.labels?.[l.roleLabel]}/${p.status?.conditions?.find((x) => x.type === "Ready")?.status}`).sort();
        const up = l.upRoles ?? "master/True replica/True replica/True";
        if (roles.join(" ") !== up) throw new Error(`pods: ${roles.join(" ") || "none"}`);
        return ps.find((p) => p.metadata?.labels?.[l.roleLabel] === up.split("/")[0])!.metadata!.name!;
      });
      await l.afterUp?.(c, leader);
    }, 420_000);

    afterAll(async () => {
      // The fixture is the test's: gone before the next test deploys on the same nodes.
      if (c) {
        await requestNamespaceDeletion(c, l.namespace).catch(() => undefined);
        await awaitNamespaceGone(c, l.namespace, "the --attach e2e's namespace").catch((e: unknown) => console.error(e));
      }
      if (out) rmSync(out, { recursive: true, force: true });
    }, 240_000);

    it("refuses a partition before anything starts: the network agent would stay in the operator's pods", async () => {
      const before = await snapshot(c, l);
      const r = await cli(["primary-isolate", "--attach", l.cluster, "--context", context, "--namespace", l.namespace, "--out", out]);
      expect(r.exitCode, r.all).toBe(2);
      expect(r.stderr).toMatch(/ephemeral container/);
      expect(await snapshot(c, l)).toEqual(before);
    }, 120_000);

    it("runs primary-kill against it: a verdict, the same objects, only the killed member's database container restarted, the run's schema gone", async () => {
      const before = await snapshot(c, l);
      const r = await cli(["primary-kill", "--attach", l.cluster, "--context", context, "--namespace", l.namespace, "--out", out], { timeout: 600_000 });
      // A verdict was reached (0 PASS, 1 FAIL: the stack's own behaviour is the verdict's business); not an error.
      expect([0, 1], r.all).toContain(r.exitCode);
      const dir = join(out, "primary-kill", readdirSync(join(out, "primary-kill")).sort().at(-1)!);
      const verdict = JSON.parse(readFileSync(join(dir, "verdict.json"), "utf8"));
      const run = JSON.parse(readFileSync(join(dir, "scenario.json"), "utf8"));
      expect(run.settings.operator).toBe(l.operator);
      expect(run.settings.schema).toMatch(/^pgchaos_[a-z0-9]+$/);
      expect(run.stack.version).toMatch(/^\d+\.\d+/);
      // Writes went through the operator's primary Service, and a member was killed.
      expect(verdict.run.writes.ok, r.all).toBeGreaterThan(50);
      const history = readFileSync(join(dir, "history.jsonl"), "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
      const inject = history.find((e) => e.f === "fault" && e.value?.phase === "inject");
      expect(inject.value.nodes).toHaveLength(1);
      const killed = inject.value.nodes[0] as string;
      // Every member's node probe reached it (through its forward: TLS and the schema on the path where the cluster
      // asks), and the final read read every member.
      const members = (await pods(c, l)).map((p) => p.metadata!.name!);
      // (A replica's probe is answered read-only: reached all the same.)
      for (const m of members) expect(history.some((e) => e.process === `probe-${m}` && ["writable", "read-only"].includes(e.value?.state)), `node probe of ${m}`).toBe(true);
      const final = JSON.parse(readFileSync(join(dir, "final.json"), "utf8")) as { members: Array<{ node: string; error?: string }> };
      expect(final.members.map((m) => `${m.node}${m.error ? `: ${m.error}` : ""}`).sort()).toEqual([...members].sort());
      // Nothing of the operator's was deleted or replaced (Patroni may have written an object more: only the old are checked).
      const after = await snapshot(c, l);
      for (const [k, uid] of Object.entries(before.objects)) expect(after.objects[k], k).toBe(uid);
      // The kubelet restarted the killed member's database container in the same pod (its main process died), once;
      // no other container, a sidecar in the same process namespace included, was touched.
      const key = `${killed} ${l.container}`;
      expect(after.restarts).toEqual({ ...before.restarts, [key]: (before.restarts[key] ?? 0) + 1 });
      for (const p of await pods(c, l)) expect(await psql(p.metadata!.name!, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgchaos%'", l.database), p.metadata!.name).toBe("0");
      await checks({ dir, killed });
    }, 660_000);
  });
}

attachSuite("--attach to an operator's cluster laid out as Spilo's, through the CLI", {
  operator: "spilo",
  cluster: "acid-pgchaos",
  namespace: `attach-spilo-${process.pid}`,
  memberSelector: "application=spilo,cluster-name=acid-pgchaos",
  roleLabel: "spilo-role",
  container: "postgres",
  database: "postgres",
  async deploy(c) {
    for (const o of spiloLikeObjects({ cluster: "acid-pgchaos", namespace: this.namespace, image, profile: getProfile("fast"), passwords: { superuser: pw(), replication: pw(), rewind: pw() } })) await apply(c, o);
  },
});

const pgoNamespace = `attach-pgo-${process.pid}`;
const appPassword = pw();
attachSuite(
  "--attach to an operator's cluster laid out as Crunchy PGO's (TLS only, a non-superuser, a sidecar in a shared process namespace), through the CLI",
  {
    operator: "pgo",
    cluster: "hippo",
    namespace: pgoNamespace,
    memberSelector: "postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/instance",
    roleLabel: "postgres-operator.crunchydata.com/role",
    container: "database",
    database: "hippo",
    async deploy(c) {
      const dir = mkdtempSync(join(tmpdir(), "pgchaos-attach-tls-"));
      try {
        await execa("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=hippo-primary", "-keyout", join(dir, "tls.key"), "-out", join(dir, "tls.crt")]);
        const tls = { crt: readFileSync(join(dir, "tls.crt"), "utf8"), key: readFileSync(join(dir, "tls.key"), "utf8") };
        for (const o of pgoLikeObjects({ cluster: "hippo", namespace: pgoNamespace, image, profile: getProfile("fast"), passwords: { superuser: pw(), replication: pw(), rewind: pw() }, appPassword, tls })) await apply(c, o);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const ha = await c.core.readNamespacedService({ name: "hippo-ha", namespace: pgoNamespace });
      await apply(c, pgoPrimaryEndpoints({ cluster: "hippo", namespace: pgoNamespace }, ha.spec!.clusterIP!) as KubernetesObject);
    },
    async afterUp(c, leader) {
      for (const sql of pgoUserSql("hippo", appPassword)) {
        const r = await execInPod(c, { namespace: pgoNamespace, pod: leader, container: "database" }, ["psql", "-h", "/var/run/postgresql", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql]);
        expect(r.exitCode, r.stderr).toBe(0);
      }
    },
  },
  async () => {
    // PGO's REST API asks a client certificate for a switchover: refused after discovery, before anything is created.
    const r = await cli(["switchover", "--attach", "hippo", "--context", context, "--namespace", pgoNamespace]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toMatch(/the switchover fault: PGO's Patroni REST API asks a client certificate/);
  },
);

const cnpgNamespace = `attach-cnpg-${process.pid}`;
attachSuite(
  "--attach to a CloudNativePG Cluster, run by CloudNativePG's own operator and instance manager (built from the Go module proxy), through the CLI",
  {
    operator: "cnpg",
    cluster: "pg",
    namespace: cnpgNamespace,
    memberSelector: "cnpg.io/cluster=pg,cnpg.io/podRole=instance",
    roleLabel: "cnpg.io/instanceRole",
    container: "postgres",
    database: "app",
    upRoles: "primary/True replica/True replica/True",
    socketDir: "/controller/run",
    extraKinds: [["postgresql.cnpg.io/v1", "Cluster"]],
    unavailable: process.env.PGCHAOS_KUBE_CNPG ? undefined : "CloudNativePG's operator is not installed: `npm run kind:cluster -- up --operator cnpg` installs it and prints PGCHAOS_KUBE_CNPG",
    async deploy(c) {
      await apply(c, cnpgClusterManifest({ name: "pg", namespace: cnpgNamespace }));
    },
    // Settled: once the Cluster is healthy the operator deletes its completed initdb and join Jobs (with their pods),
    // which the tests' snapshots must not count as changes of the run's.
    async afterUp(c) {
      await waitFor({ condition: "the Cluster healthy and its Jobs' pods gone", where: `namespace ${cnpgNamespace}`, timeoutMs: 180_000, intervalMs: 2000 }, async () => {
        const cr = (await readCnpgCluster(c, cnpgNamespace, "pg")) as { status?: { phase?: string } };
        const jobPods = (await c.core.listNamespacedPod({ namespace: cnpgNamespace, labelSelector: "cnpg.io/jobRole" })).items.map((p) => p.metadata?.name);
        if (cr.status?.phase !== "Cluster in healthy state" || jobPods.length > 0) throw new Error(`phase ${cr.status?.phase}; Job pods: ${jobPods.join(", ") || "none"}`);
        return true;
      });
    },
  },
  async ({ dir }) => {
    const run = JSON.parse(readFileSync(join(dir, "scenario.json"), "utf8"));
    expect(run.stack.name).toBe(`cloudnative-pg@${process.env.PGCHAOS_KUBE_CNPG}`);
    expect(run.settings.cloudnativePg).toBe(process.env.PGCHAOS_KUBE_CNPG);
    expect(run.settings.instances).toBe(3);
    // Every member's timeline is its own account's, the leader's on every one of them once recovered (the instance
    // manager's report had the replicas on the restartpoint's timeline, minutes behind a failover).
    const final = JSON.parse(readFileSync(join(dir, "final.json"), "utf8")) as { members: Array<{ node: string; role: string; timeline?: number }> };
    const leaderTl = final.members.find((m) => m.role === "leader")?.timeline;
    expect(leaderTl).toBeGreaterThan(0);
    expect(final.members.map((m) => `${m.node}:${m.timeline}`)).toEqual(final.members.map((m) => `${m.node}:${leaderTl}`));
    // No Patroni there, and a switchover is a change to the Cluster's status: both refused after discovery, exit 2.
    for (const [scenario, why] of [
      ["patroni-kill", /the patroni-kill fault: CloudNativePG runs no Patroni/],
      ["switchover", /the switchover fault: CloudNativePG's own way is a change to the Cluster/],
    ] as const) {
      const r = await cli([scenario, "--attach", "pg", "--context", context, "--namespace", cnpgNamespace]);
      expect(r.exitCode, r.all).toBe(2);
      expect(r.stderr).toMatch(why);
    }
  },
);
