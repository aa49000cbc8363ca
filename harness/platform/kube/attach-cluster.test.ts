/**
 * `--attach` running scenarios: the credentials read from each operator's Secret as the operator writes it, the
 * refusals before anything is created (no Patroni, a cluster not whole, a Secret the user may not read, faults that
 * would change the operator's pods), the signals sent by process name with nothing but a shell (run for real here, on
 * processes named as Patroni and PostgreSQL are), and the Spilo-like cluster the kube tier attaches to.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { execa } from "execa";
import { credentialsFromSecret, detectOperator, faultKeys, matchesSelector, OPERATORS, primaryServiceOf, refusedFaults, type PodLike, type ServiceLike } from "./attach.ts";
import { AttachedKubeCluster, cnpgLags, cnpgMembers, cnpgOwnAccountOf, patroniLagBound, CNPG_OWN_ACCOUNT_SQL, parseCnpgOwnAccount, KILL_CONTAINER, PATRONI_REST_PY, rulesFor, SIGNAL_BY_NAME } from "./attach-cluster.ts";
import { parseRestOutput } from "./pod-ops.ts";
import { ATTACH_CAPABILITIES, ATTACH_WHY_NOT } from "./capabilities.ts";
import { spiloLikeObjects } from "./spilo-like.ts";
import { pgoLikeObjects, pgoPrimaryEndpoints } from "./pgo-like.ts";
import type { V1StatefulSet } from "@kubernetes/client-node";
import { validateObject } from "./openapi-validate.ts";
import { getProfile } from "../../stack/patroni/profiles.ts";
import { assertCapable } from "../../scenario/capabilities.ts";
import { stackCapabilities } from "../../stack/index.ts";
import { loadScenario } from "../../scenario/loader.ts";
import { EnvironmentError } from "../../util/errors.ts";
import type { ClusterSpec, Member } from "../types.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("credentials from the operator's Secret", () => {
  it("reads each operator's keys, as the operators write them", () => {
    // Zalando: postgres.<cluster>.credentials.postgresql.acid.zalan.do, username and password.
    const spilo = { metadata: { name: "postgres.acid-minimal-cluster.credentials.postgresql.acid.zalan.do" }, data: { username: b64("postgres"), password: b64("s3cr3t-zalando") } };
    expect(OPERATORS.spilo.credentials.secret("acid-minimal-cluster")).toBe(spilo.metadata.name);
    expect(credentialsFromSecret(OPERATORS.spilo, "acid-minimal-cluster", spilo, "-c search_path=pgchaos_x")).toEqual({ user: "postgres", password: "s3cr3t-zalando", database: "postgres", options: "-c search_path=pgchaos_x" });
    // PGO v5: <cluster>-pguser-<cluster>, user, password, dbname (and host, port, uri, jdbc-uri).
    const pgo = { metadata: { name: "hippo-pguser-hippo" }, data: { user: b64("hippo"), password: b64("pgo-pw"), dbname: b64("hippo"), host: b64("hippo-primary.postgres-operator.svc"), port: b64("5432") } };
    expect(OPERATORS.pgo.credentials.secret("hippo")).toBe("hippo-pguser-hippo");
    // PGO's pg_hba takes TLS only: the probes connect with TLS (through a port-forward to 127.0.0.1, which no certificate names: not verified).
    expect(credentialsFromSecret(OPERATORS.pgo, "hippo", pgo, "")).toMatchObject({ user: "hippo", password: "pgo-pw", database: "hippo", ssl: { rejectUnauthorized: false } });
    expect(credentialsFromSecret(OPERATORS.spilo, "acid-minimal-cluster", spilo, "")).not.toHaveProperty("ssl");
    // CloudNativePG: <cluster>-app, username, password, dbname.
    const cnpg = { metadata: { name: "cluster-example-app" }, data: { username: b64("app"), password: b64("cnpg-pw"), dbname: b64("app") } };
    expect(credentialsFromSecret(OPERATORS.cnpg, "cluster-example", cnpg, "")).toMatchObject({ user: "app", password: "cnpg-pw", database: "app" });
  });

  it("says which key is missing", () => {
    expect(credentialsFromSecret(OPERATORS.pgo, "hippo", { metadata: { name: "hippo-pguser-hippo" }, data: { user: b64("hippo") } }, "")).toEqual({
      problem: "Secret hippo-pguser-hippo has no password key, where Crunchy Postgres for Kubernetes (PGO v5) keeps the credentials",
    });
  });
});

describe("what an attached run refuses before it starts", () => {
  const platform = { name: "kube --attach", capabilities: ATTACH_CAPABILITIES, whyNot: ATTACH_WHY_NOT };
  const stack = { name: "patroni", ...stackCapabilities("patroni") };

  it("runs kills, pauses and switchovers; refuses what would change the operator's pods or nodes, saying why", async () => {
    for (const ok of ["primary-kill", "replica-kill", "primary-pause", "patroni-kill", "postgres-kill", "switchover", "failover-to-replica"]) {
      const s = await loadScenario(ok);
      expect(() => assertCapable(s.name, s.schedule.map((x) => x.fault), platform, stack), ok).not.toThrow();
    }
    const refusals: Record<string, RegExp> = {
      "primary-isolate": /ephemeral container .*stays in the pod's spec/,
      "packet-loss": /network agent .*would stay in the operator's pods/,
      "primary-stop": /eviction or a deletion of its pod/,
      "primary-drain": /cordons a node/,
      "primary-node-failure": /powers a Kubernetes node off/,
      "etcd-leader-kill": /API server is the DCS/,
      "disaster-recovery": /restores nothing/,
    };
    for (const [name, why] of Object.entries(refusals)) {
      const s = await loadScenario(name);
      expect(() => assertCapable(s.name, s.schedule.map((x) => x.fault), platform, stack), name).toThrow(why);
    }
  });

  it("refuses, per operator, a fault's kind or the part of a member it acts on: no pause of Patroni alone on CloudNativePG", async () => {
    const keys = (name: string) => loadScenario(name).then((s) => faultKeys(s.schedule.map((x) => x.fault)));
    expect(await keys("primary-pause")).toEqual(["pause"]);
    expect(await keys("patroni-kill")).toContain("patroni-kill");
    const pausePatroni = faultKeys([
      { kind: "pause", target: "primary", part: "patroni" },
      { kind: "pause", target: "replica", part: "postgres" },
    ]);
    expect(pausePatroni).toEqual(["pause", "pause:patroni", "pause:postgres"]);
    expect(refusedFaults(OPERATORS.cnpg, pausePatroni)).toEqual([`a pause of patroni alone: ${OPERATORS.cnpg.refuses!["pause:patroni"]}`]);
    expect(refusedFaults(OPERATORS.cnpg, await keys("primary-pause"))).toEqual([]);
    expect(refusedFaults(OPERATORS.cnpg, await keys("patroni-kill"))).toEqual([expect.stringMatching(/^the patroni-kill fault: CloudNativePG runs no Patroni/)]);
    // Patroni runs in Spilo's and PGO's pods: a pause of it alone is taken there.
    expect(refusedFaults(OPERATORS.spilo, pausePatroni)).toEqual([]);
    expect(refusedFaults(OPERATORS.pgo, pausePatroni)).toEqual([]);
  });
});

describe("attaching through the API (a stand-in): refusals before anything is created", () => {
  // One run folder for the file's stand-in runs, removed after them (a refusal writes nothing there).
  const runDir = mkdtempSync(join(tmpdir(), "pgchaos-attach-test-"));
  afterAll(() => rmSync(runDir, { recursive: true, force: true }));
  const spec = (): ClusterSpec => ({ name: "primary-kill", nodes: 3, profile: getProfile("fast"), runDir, logger: pino({ level: "silent" }) });
  const pod = (name: string, labels: Record<string, string>, status?: object, ready = true): PodLike => ({
    metadata: { name, labels, annotations: status ? { status: JSON.stringify(status) } : {} },
    status: { phase: "Running", podIP: `10.244.0.${name.length}`, conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  });
  const spiloPods = (readyAll: boolean) => [
    pod("acid-a-0", { application: "spilo", "cluster-name": "acid-a", "spilo-role": "master" }, { state: "running", role: "master" }),
    pod("acid-a-1", { application: "spilo", "cluster-name": "acid-a", "spilo-role": "replica" }, { state: "running", role: "replica" }, readyAll),
  ];
  const services: ServiceLike[] = [{ metadata: { name: "acid-a" }, spec: { selector: { application: "spilo", "cluster-name": "acid-a", "spilo-role": "master" } } }];
  const world = (pods: PodLike[], secret: () => unknown) => {
    const calls: string[] = [];
    const notFound = () => Object.assign(new Error("not found"), { code: 404 });
    const clients = {
      core: {
        async listNamespacedPod({ labelSelector }: { labelSelector: string }) {
          calls.push("list pods");
          return { items: pods.filter((p) => matchesSelector(labelSelector, p.metadata?.labels)) };
        },
        listNamespacedService: async () => ({ items: services }),
        listNamespacedEndpoints: async () => ({ items: [] }),
        readNamespacedEndpoints: async () => {
          throw notFound();
        },
        readNamespacedConfigMap: async () => {
          throw notFound();
        },
        readNamespacedSecret: async ({ name }: { name: string }) => {
          calls.push(`read secret ${name}`);
          return secret();
        },
      },
      objects: { read: async () => ({ status: { currentPrimary: "cluster-example-1" } }) },
    };
    const forward = async () => {
      calls.push("port-forward");
      throw new Error("no forward in this test");
    };
    const exec = async (p: string) => {
      calls.push(`exec ${p}`);
      return { stdout: "", stderr: "", exitCode: 1 };
    };
    return { deps: { clients: clients as never, forward, exec }, calls };
  };

  it("refuses a CloudNativePG cluster without its primary Service as not whole, showing what it found, before anything is read or run", async () => {
    const cnpg = ["1", "2"].map((i) => pod(`cluster-example-${i}`, { "cnpg.io/cluster": "cluster-example", "cnpg.io/podRole": "instance", "cnpg.io/instanceRole": i === "1" ? "primary" : "replica" }));
    const w = world(cnpg, () => ({}));
    const e = await AttachedKubeCluster.attach(spec(), { namespace: "db", target: { cluster: "cluster-example" } }, w.deps).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EnvironmentError);
    expect((e as Error).message).toMatch(/CloudNativePG cluster cluster-example in namespace db is not whole.*"cluster-example-rw", and there is no such Service/);
    expect((e as Error).message).toMatch(/cluster-example-1 +leader/);
    expect(w.calls.filter((c) => !c.startsWith("list"))).toEqual([]);
  });

  it("refuses a cluster that is not whole: a member not ready", async () => {
    const w = world(spiloPods(false), () => ({}));
    const e = await AttachedKubeCluster.attach(spec(), { namespace: "db", target: { cluster: "acid-a" } }, w.deps).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EnvironmentError);
    expect((e as Error).message).toMatch(/acid-a in namespace db is not whole, so a run would measure that rather than a fault \(acid-a-1 is starting\)/);
    expect(w.calls.filter((c) => !c.startsWith("list"))).toEqual([]);
  });

  it("says which Secret it cannot read, and what the user needs, before opening anything", async () => {
    const w = world(spiloPods(true), () => {
      throw Object.assign(new Error("forbidden"), { code: 403, body: JSON.stringify({ message: 'secrets "postgres.acid-a.credentials.postgresql.acid.zalan.do" is forbidden' }) });
    });
    const e = await AttachedKubeCluster.attach(spec(), { namespace: "db", target: { cluster: "acid-a" } }, w.deps).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EnvironmentError);
    expect((e as Error).message).toMatch(/cannot read Secret postgres\.acid-a\.credentials\.postgresql\.acid\.zalan\.do in namespace db, where Zalando postgres-operator \(Spilo\) keeps the credentials .*needs `get` on secrets/);
    expect(w.calls).not.toContain("port-forward");
    expect(w.calls.filter((c) => c.startsWith("exec"))).toEqual([]);
  });
});

describe("signals by process name, with a shell and /proc only (run here for real, in a PID namespace of its own)", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // In a PID namespace of the test's own, as in a container: the script signals every process of those names it can
  // see, and must never see the PostgreSQL and Patroni of other tests on this machine.
  const SCENE = [
    'd=$1; sig=$2',
    '"$d/postgres" 60 & pm=$!',
    '"$d/postgresx" 60 & other=$!',
    'python3 "$d/bin/patroni" & py=$!',
    'python3 "$d/bin/patronictl" list & ctl=$!',
    'sleep 0.5',
    'st() { for p in "$@"; do s=$(cut -d" " -f3 "/proc/$p/stat" 2>/dev/null); printf "%s " "${s:-gone}"; done; }',
    'n=$(sh -c "$sig" pgchaos-signal STOP patroni postgres); sleep 0.2; echo "stop $n $(st $pm $py $other $ctl)"',
    'n=$(sh -c "$sig" pgchaos-signal CONT patroni postgres); sleep 0.2; echo "cont $n $(st $pm $py $other $ctl)"',
    'n=$(sh -c "$sig" pgchaos-signal KILL postgres); sleep 0.2; echo "kill $n $(st $pm $py $other $ctl)"',
    'kill -9 $py $other $ctl 2>/dev/null; wait 2>/dev/null; true',
  ].join("\n");

  it("stops, continues and kills what carries the names (Patroni also as `python3 .../bin/patroni`), and nothing else", async () => {
    dir = mkdtempSync(join(tmpdir(), "pgchaos-signal-"));
    for (const name of ["postgres", "postgresx"]) {
      copyFileSync("/bin/sleep", join(dir, name));
      chmodSync(join(dir, name), 0o755);
    }
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin", "patroni"), "import time\ntime.sleep(60)\n");
    // patronictl is not Patroni: a user's `patronictl list` must be left alone.
    writeFileSync(join(dir, "bin", "patronictl"), "import time\ntime.sleep(60)\n");
    const r = await execa("unshare", ["--pid", "--fork", "--mount-proc", "bash", "-c", SCENE, "scene", dir, SIGNAL_BY_NAME]);
    const lines = Object.fromEntries(r.stdout.trim().split("\n").map((l) => [l.split(" ")[0], l.trim().split(" ").slice(1)]));
    // Signalled, postmaster, Python Patroni, the other, patronictl.
    expect(lines.stop).toEqual(["2", "T", "T", "S", "S"]);
    expect(lines.cont).toEqual(["2", "S", "S", "S", "S"]);
    expect(lines.kill![0]).toBe("1");
    expect(["Z", "gone"]).toContain(lines.kill![1]);
    expect(lines.kill!.slice(2)).toEqual(["S", "S", "S"]);
  });
});

describe("a pod kill on an attached member: the container's processes only (run here for real)", () => {
  const cg = `/sys/fs/cgroup/pids/pgchaos-attach-test-${process.pid}`;
  afterEach(async () => {
    await execa("rmdir", [cg], { reject: false });
  });

  // In a PID namespace of the test's own; "the other container" is a sleep moved into a cgroup of its own, as a
  // sidecar's processes are when a pod shares one process namespace between its containers (PGO).
  const SCENE = [
    'kill_container=$1; cg=$2',
    'sleep 60 & mine=$!',
    'sleep 60 & sidecar=$!',
    'mkdir -p "$cg" && echo "$sidecar" > "$cg/cgroup.procs" || exit 3',
    'n=$(sh -c "$kill_container"); sleep 0.2',
    'st() { for p in "$@"; do s=$(cut -d" " -f3 "/proc/$p/stat" 2>/dev/null); printf "%s " "${s:-gone}"; done; }',
    'echo "$n $(st $mine $sidecar)"',
    'kill -9 $sidecar 2>/dev/null; wait 2>/dev/null; true',
  ].join("\n");

  it.skipIf(!existsSync("/sys/fs/cgroup/pids"))("signals by name only this container's processes: one of the same name in another cgroup is left alone", async () => {
    const scene = [
      'sig=$1; cg=$2',
      'sleep 60 & mine=$!',
      'sleep 60 & sidecar=$!',
      'mkdir -p "$cg" && echo "$sidecar" > "$cg/cgroup.procs" || exit 3',
      'sleep 0.2',
      'st() { for p in "$@"; do s=$(cut -d" " -f3 "/proc/$p/stat" 2>/dev/null); printf "%s " "${s:-gone}"; done; }',
      'n=$(sh -c "$sig" pgchaos-signal STOP sleep); sleep 0.2; echo "$n $(st $mine $sidecar)"',
      'kill -CONT $mine; kill -9 $mine $sidecar 2>/dev/null; wait 2>/dev/null; true',
    ].join("\n");
    const r = await execa("unshare", ["--pid", "--fork", "--mount-proc", "bash", "-c", scene, "scene", SIGNAL_BY_NAME, cg]);
    expect(r.stdout.trim().split(" ")).toEqual(["1", "T", "S"]);
  });

  it.skipIf(!existsSync("/sys/fs/cgroup/pids"))("kills what shares the exec's cgroup but PID 1, and not another container's process", async () => {
    const r = await execa("unshare", ["--pid", "--fork", "--mount-proc", "bash", "-c", SCENE, "scene", KILL_CONTAINER, cg]);
    const [n, mine, sidecar] = r.stdout.trim().split(" ");
    expect(Number(n)).toBeGreaterThanOrEqual(1);
    expect(["Z", "gone"]).toContain(mine);
    expect(sidecar).toBe("S");
  });
});

describe("Patroni's REST API by python3 in the pod (run here for real, in a network namespace of its own)", () => {
  // A stand-in Patroni on 127.0.0.1:8008 of a network namespace of the test's own (nothing else listens there).
  const SERVER = [
    "import http.server, json",
    "class H(http.server.BaseHTTPRequestHandler):",
    "    def log_message(self, *a): pass",
    "    def reply(self, code, body):",
    "        b = body.encode(); self.send_response(code); self.send_header('Content-Length', str(len(b))); self.end_headers(); self.wfile.write(b)",
    "    def do_GET(self):",
    "        self.reply(200, json.dumps({'state': 'running', 'role': 'master'})) if self.path == '/patroni' else self.reply(503, 'no leader')",
    "    def do_POST(self):",
    "        n = int(self.headers.get('Content-Length', 0)); self.reply(200, 'got ' + self.headers.get('Content-Type') + ' ' + self.rfile.read(n).decode())",
    "http.server.HTTPServer(('127.0.0.1', 8008), H).serve_forever()",
  ].join("\n");
  const SCENE = [
    'rest=$1; server=$2',
    "ip link set lo up",
    'python3 -c "$server" & srv=$!',
    "for i in $(seq 50); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 8008))' 2>/dev/null && break; sleep 0.1; done",
    'echo "== get"; python3 -c "$rest" http GET /patroni; echo "rc $?"',
    'echo "== post"; python3 -c "$rest" http POST /switchover \'{"leader": "a"}\'; echo "rc $?"',
    'echo "== 503"; python3 -c "$rest" http GET /readiness; echo "rc $?"',
    'kill $srv; wait $srv 2>/dev/null',
    'echo "== down"; python3 -c "$rest" http GET /patroni 2>&1; echo "rc $?"',
  ].join("\n");

  it("prints the status, then the body; an HTTP error is an answer; no answer is exit 1 saying where it asked", async () => {
    const r = await execa("unshare", ["--net", "bash", "-c", SCENE, "scene", PATRONI_REST_PY, SERVER]);
    const parts = Object.fromEntries(r.stdout.split("== ").filter(Boolean).map((p) => [p.slice(0, p.indexOf("\n")), p.slice(p.indexOf("\n") + 1).trim()]));
    expect(parseRestOutput(parts.get!.replace(/\nrc 0$/, ""))).toEqual({ status: 200, body: '{"state": "running", "role": "master"}' });
    expect(parts.post).toBe('200\ngot application/json {"leader": "a"}\nrc 0');
    expect(parts["503"]).toBe("503\nno leader\nrc 0");
    expect(parts.down).toMatch(/^http:\/\/127\.0\.0\.1:8008\/patroni: .*Connection refused.*\nrc 1$/s);
  });

  it.skipIf(!existsSync("/usr/bin/openssl"))("speaks TLS where Patroni's api_url says https, without verifying a certificate that cannot name 127.0.0.1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-rest-tls-"));
    try {
      await execa("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hippo-instance1-0", "-keyout", join(dir, "k"), "-out", join(dir, "c")]);
      const tlsServer = SERVER.replace(
        "http.server.HTTPServer(('127.0.0.1', 8008), H).serve_forever()",
        `import ssl\ns = http.server.HTTPServer(('127.0.0.1', 8008), H)\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('${join(dir, "c")}', '${join(dir, "k")}')\ns.socket = ctx.wrap_socket(s.socket, server_side=True)\ns.serve_forever()`,
      );
      const scene = SCENE.split("\n").slice(0, 4).join("\n") + '\necho "== get"; python3 -c "$rest" https GET /patroni; echo "rc $?"\necho "== plain"; python3 -c "$rest" http GET /patroni 2>&1 | tail -1; echo "rc $?"\nkill $srv; wait $srv 2>/dev/null; true';
      const r = await execa("unshare", ["--net", "bash", "-c", scene, "scene", PATRONI_REST_PY, tlsServer]);
      expect(r.stdout).toContain('== get\n200\n{"state": "running", "role": "master"}\nrc 0');
      // Plain HTTP to a TLS server is no answer: the scheme must be Patroni's own.
      expect(r.stdout).toMatch(/== plain\n.*http:\/\/127\.0\.0\.1:8008\/patroni: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Patroni's rules for the version an operator runs", () => {
  it("takes the known version at or below it, the oldest for older ones, the default when unknown", () => {
    expect(rulesFor("4.0.7").version).toBe("4.0.7");
    expect(rulesFor("4.0.9").version).toBe("4.0.7");
    expect(rulesFor("4.2.0").version).toBe("4.1.5");
    expect(rulesFor("3.3.2").version).toBe("3.0.2");
    expect(rulesFor("2.1.4").version).toBe("3.0.2");
    expect(rulesFor(undefined).default).toBe(true);
  });
});

describe("the Spilo-like cluster the kube tier attaches to", () => {
  const objects = spiloLikeObjects({ cluster: "acid-pgchaos", namespace: "attach-e2e", image: "pgchaos/member:patroni-3.0.2-pg15-87b17fba2ab2", profile: getProfile("fast"), passwords: { superuser: "s".repeat(24), replication: "r".repeat(24), rewind: "w".repeat(24) } });

  it("validates against the Kubernetes OpenAPI schemas and carries no label of pgchaos's", () => {
    for (const o of objects) validateObject(o);
    expect(JSON.stringify(objects)).not.toMatch(/pgchaos\.io\/|"managed-by":"pgchaos"|"application":"pgchaos"/);
  });

  it("is what --attach finds as the Zalando operator's: its pods' labels, the primary Service by Patroni's Endpoints, the Secret", () => {
    const sts = objects.find((o) => o.kind === "StatefulSet") as { spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: Array<{ name: string; env: Array<{ name: string; value?: string }> }> } } } };
    const labels = { ...sts.spec.template.metadata.labels, "spilo-role": "master" };
    const pods: PodLike[] = [{ metadata: { name: "acid-pgchaos-0", labels }, status: { phase: "Running" } }];
    expect(detectOperator(pods)).toEqual({ operator: OPERATORS.spilo, cluster: "acid-pgchaos" });
    expect(primaryServiceOf(OPERATORS.spilo, "acid-pgchaos", objects.filter((o) => o.kind === "Service") as ServiceLike[])).toMatchObject({ service: "acid-pgchaos", routes: "endpoints" });
    expect(objects.some((o) => o.kind === "Secret" && o.metadata?.name === OPERATORS.spilo.credentials.secret("acid-pgchaos"))).toBe(true);
    const c = sts.spec.template.spec.containers[0]!;
    expect(c.name).toBe(OPERATORS.spilo.container);
    expect(c.env.find((e) => e.name === "PATRONI_KUBERNETES_ROLE_LABEL")?.value).toBe("spilo-role");
    expect(c.env.find((e) => e.name === "PATRONI_KUBERNETES_USE_ENDPOINTS")?.value).toBe("true");
  });
});

describe("the PGO-like cluster the kube tier attaches to", () => {
  const tls = { crt: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", key: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n" };
  const objects = pgoLikeObjects({ cluster: "hippo", namespace: "attach-pgo", image: "pgchaos/member:patroni-3.0.2-pg15-87b17fba2ab2", profile: getProfile("fast"), passwords: { superuser: "s".repeat(24), replication: "r".repeat(24), rewind: "w".repeat(24) }, appPassword: "a".repeat(24), tls });

  it("validates against the Kubernetes OpenAPI schemas and carries no label of pgchaos's", () => {
    for (const o of objects) validateObject(o);
    expect(JSON.stringify(objects)).not.toMatch(/pgchaos\.io\/|"managed-by":"pgchaos"|"application":"pgchaos"/);
  });

  it("is what --attach finds as PGO's: instance pods, Patroni's scope <c>-ha, the database container beside a sidecar, TLS only, the pguser Secret", () => {
    const sts = objects.find((o) => o.kind === "StatefulSet") as unknown as V1StatefulSet;
    const labels = { ...sts.spec!.template.metadata!.labels!, "postgres-operator.crunchydata.com/role": "master" };
    expect(detectOperator([{ metadata: { name: "hippo-instance1-0", labels }, status: { phase: "Running" } }])).toEqual({ operator: OPERATORS.pgo, cluster: "hippo" });
    const pod = sts.spec!.template.spec!;
    expect(pod.shareProcessNamespace).toBe(true);
    expect(pod.containers.map((c) => c.name)).toEqual([OPERATORS.pgo.container, "replication-cert-copy"]);
    const env = Object.fromEntries(pod.containers[0]!.env!.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ PATRONI_SCOPE: "hippo-ha", PATRONI_KUBERNETES_USE_ENDPOINTS: "true", PATRONI_KUBERNETES_ROLE_LABEL: "postgres-operator.crunchydata.com/role", PATRONI_RESTAPI_VERIFY_CLIENT: "optional" });
    const yml = (objects.find((o) => o.kind === "ConfigMap") as { data: Record<string, string> }).data["patroni.yml"]!;
    expect(yml).toMatch(/hostssl all all 0\.0\.0\.0\/0 scram-sha-256/);
    expect(yml).toMatch(/host all all 0\.0\.0\.0\/0 reject/);
    expect(objects.some((o) => o.kind === "Secret" && o.metadata?.name === OPERATORS.pgo.credentials.secret("hippo"))).toBe(true);
    expect(primaryServiceOf(OPERATORS.pgo, "hippo", objects.filter((o) => o.kind === "Service") as ServiceLike[])).toMatchObject({ service: "hippo-primary", routes: "endpoints" });
    expect(pgoPrimaryEndpoints({ cluster: "hippo", namespace: "attach-pgo" }, "10.96.0.40")).toMatchObject({ subsets: [{ addresses: [{ ip: "10.96.0.40" }] }] });
  });
});

describe("CloudNativePG's members, from the operator's own record", () => {
  const instance = (name: string, o: { ready?: boolean; deleting?: boolean } = {}) =>
    ({
      metadata: { name, labels: { "cnpg.io/cluster": "pg", "cnpg.io/podRole": "instance" }, ...(o.deleting ? { deletionTimestamp: new Date() } : {}) },
      status: { phase: "Running", podIP: `10.244.0.${name.slice(-1)}`, conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }] },
    }) as never;
  const reported = (primary: string, tl = 1) => Object.fromEntries(["pg-1", "pg-2", "pg-3"].map((n) => [n, { isPrimary: n === primary, timeLineID: tl }]));

  it("leads by status.currentPrimary, and takes no timeline from the instance manager's report (a replica's is its last restartpoint's)", () => {
    const ms = cnpgMembers([instance("pg-1"), instance("pg-2"), instance("pg-3")], { status: { currentPrimary: "pg-1", targetPrimary: "pg-1", instancesReportedState: reported("pg-1", 3) } });
    expect(ms.map((m) => `${m.name}:${m.role}/${m.state}`)).toEqual(["pg-1:leader/running", "pg-2:replica/running", "pg-3:replica/running"]);
    expect(ms.map((m) => m.timeline)).toEqual([undefined, undefined, undefined]);
    expect(ms[1]!.streaming).toBeUndefined();
  });

  it("shows two leaders while a failover is under way and the old primary was last seen primary, and none before a promotion is reported", () => {
    // The operator chose pg-2 (targetPrimary) and pg-2 reports itself primary; pg-1 was last seen primary.
    const failing = { status: { currentPrimary: "pg-1", targetPrimary: "pg-2", instancesReportedState: { ...reported("pg-2", 2), "pg-1": { isPrimary: true, timeLineID: 1 } } } };
    const ms = cnpgMembers([instance("pg-1", { ready: false }), instance("pg-2"), instance("pg-3")], failing);
    expect(ms.filter((m) => m.role === "leader").map((m) => m.name)).toEqual(["pg-1", "pg-2"]);
    expect(ms[0]!.state).toBe("starting");
    // targetPrimary moved, nobody promoted yet: no leader.
    const chosen = { status: { currentPrimary: "pg-1", targetPrimary: "pg-2", instancesReportedState: { ...reported("none"), "pg-1": { isPrimary: false } } } };
    expect(cnpgMembers([instance("pg-1"), instance("pg-2"), instance("pg-3")], chosen).filter((m) => m.role === "leader")).toEqual([]);
  });

  it("counts a member running only when its pod is Ready and not being deleted", () => {
    const st = { status: { currentPrimary: "pg-1", targetPrimary: "pg-1", instancesReportedState: reported("pg-1") } };
    expect(cnpgMembers([instance("pg-1"), instance("pg-2", { ready: false }), instance("pg-3", { deleting: true })], st).map((m) => m.state)).toEqual(["running", "starting", "stopping"]);
  });

  it("reads a member's own account as psql prints it: primary or not, the timeline it writes or streams, its WAL position", () => {
    expect(parseCnpgOwnAccount("t 2 0/3000060\n")).toEqual({ primary: true, timeline: 2, lsn: 0x3000060n });
    expect(parseCnpgOwnAccount("f 3 1/A0\n")).toEqual({ primary: false, timeline: 3, lsn: (1n << 32n) + 0xa0n });
    // A replica whose WAL receiver does not stream: no timeline; one that never received nor replayed anything: no position.
    expect(parseCnpgOwnAccount("f  0/3000060\n")).toEqual({ primary: false, lsn: 0x3000060n });
    expect(parseCnpgOwnAccount("f  \n")).toEqual({ primary: false });
    expect(parseCnpgOwnAccount("f 3 nonsense")).toBeUndefined();
    expect(parseCnpgOwnAccount("psql: error: connection to server on socket failed")).toBeUndefined();
  });

  it("gives each replica its lag behind the one member that answers as primary, none where a position is unknown, and no negative lag", () => {
    const ms = (): Member[] => ["pg-1", "pg-2", "pg-3", "pg-4"].map((name, i) => ({ name, host: "", role: i === 0 ? "leader" : "replica", state: "running" }));
    const members = ms();
    // pg-3 was read after the primary and is ahead of the position read there; pg-4's position is unknown.
    const accounts = new Map([
      ["pg-1", { primary: true, lsn: 0x3000060n }],
      ["pg-2", { primary: false, lsn: 0x3000000n }],
      ["pg-3", { primary: false, lsn: 0x3000100n }],
      ["pg-4", { primary: false }],
    ]);
    cnpgLags(members, accounts);
    expect(members.map((m) => m.lagBytes)).toEqual([undefined, 0x60, 0, undefined]);
    // The operator still names pg-1 (role leader) while pg-2 answers as the primary: pg-2's position is the reference.
    const moved = ms();
    cnpgLags(moved, new Map([["pg-1", { primary: false, lsn: 0x2ffff00n }], ["pg-2", { primary: true, lsn: 0x3000000n }], ["pg-3", { primary: false, lsn: 0x3000000n }]]));
    expect(moved.map((m) => m.lagBytes)).toEqual([0x100, undefined, 0, undefined]);
    // Two members answering as primaries, or none: no lag anywhere.
    const two = ms();
    cnpgLags(two, new Map([["pg-1", { primary: true, lsn: 0x3000060n }], ["pg-2", { primary: true, lsn: 0x3000000n }], ["pg-3", { primary: false, lsn: 0x3000000n }]]));
    expect(two.map((m) => m.lagBytes)).toEqual([undefined, undefined, undefined, undefined]);
    const none = ms();
    cnpgLags(none, new Map([["pg-2", { primary: false, lsn: 0x3000000n }]]));
    expect(none.map((m) => m.lagBytes)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it("takes an attached Patroni's lag bound from its configuration, else Patroni's default of 1 MiB", () => {
    expect(patroniLagBound(65536)).toBe(65536);
    expect(patroniLagBound("131072")).toBe(131072);
    for (const absent of [undefined, null, "", "lots", -1, 1.5]) expect(patroniLagBound(absent), String(absent)).toBe(1048576);
  });

  it("asks psql on the instance manager's socket as postgres, and says what psql said when it fails", async () => {
    const asked: string[][] = [];
    const ok = await cnpgOwnAccountOf(async (argv) => (asked.push(argv), { stdout: "f 4 0/5000000\n", stderr: "", exitCode: 0 }));
    expect(ok).toEqual({ primary: false, timeline: 4, lsn: 0x5000000n });
    expect(asked[0]!.slice(0, 7)).toEqual(["psql", "-X", "-h", "/controller/run", "-U", "postgres", "-d"]);
    expect(asked[0]!.at(-1)).toBe(CNPG_OWN_ACCOUNT_SQL);
    await expect(cnpgOwnAccountOf(async () => ({ stdout: "", stderr: 'psql: error: FATAL:  Peer authentication failed for user "postgres"', exitCode: 2 }))).rejects.toThrow(
      /psql on \/controller\/run as postgres: exit 2: psql: error: FATAL:  Peer authentication failed/,
    );
    await expect(cnpgOwnAccountOf(async () => ({ stdout: "hello", stderr: "", exitCode: 0 }))).rejects.toThrow(/unexpected output "hello"/);
  });
});
