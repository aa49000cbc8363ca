import { describe, expect, it } from "vitest";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { getProfile } from "../../stack/patroni/profiles.ts";
import type { PatroniHaStack } from "../../stack/patroni/stack.ts";
import { EnvironmentError, UsageError } from "../../util/errors.ts";
import type { ClusterSpec } from "../types.ts";
import type { ExecResult, KubeClients } from "./client.ts";
import { KubeCluster, type KubeRuntime } from "./cluster.ts";
import { TEST_IMAGE, testStack } from "./test-stack.ts";
import { POD_CTL } from "./manifests.ts";
import { checkPodPatroni, podAgentApi, type PodExec } from "./stack.ts";

/** A Patroni stand-in behind `pgchaos-ctl rest`: answers per "METHOD /path" in turn, records every exec. */
function fakePods(answers: Record<string, Array<{ status: number; body: string } | { exitCode: number; stderr: string }>>) {
  const calls: Array<{ node: string; method: string; path: string; body?: unknown }> = [];
  const exec: PodExec = async (node, argv) => {
    expect(argv.slice(0, 2)).toEqual([POD_CTL, "rest"]);
    const [method, path, body] = argv.slice(2) as [string, string, string | undefined];
    calls.push({ node, method, path, ...(body === undefined ? {} : { body: JSON.parse(body) as unknown }) });
    const queue = answers[`${method} ${path}`];
    const a = queue && (queue.length > 1 ? queue.shift()! : queue[0]);
    if (!a) return { exitCode: 1, stdout: "", stderr: `pgchaos-ctl: ${method} ${path}: no stand-in answer` };
    if ("exitCode" in a) return { exitCode: a.exitCode, stdout: "", stderr: a.stderr } satisfies ExecResult;
    // What pgchaos-ctl rest prints: the status line, then the body.
    return { exitCode: 0, stdout: `${a.status}\n${a.body}\n`, stderr: "" };
  };
  return { exec, calls, posts: () => calls.filter((c) => c.method !== "GET") };
}

const cluster = (leader: string, names = ["pg-0", "pg-1", "pg-2"]) => ({
  status: 200,
  body: JSON.stringify({
    members: names.map((name) => ({ name, host: `10.244.0.${names.indexOf(name) + 5}`, role: name === leader ? "leader" : "replica", state: name === leader ? "running" : "streaming", timeline: 1, lag: 0 })),
  }),
});

function spec(over: Partial<ClusterSpec> = {}): ClusterSpec {
  return { name: "t", nodes: 3, profile: getProfile("fast"), runDir: join(tmpdir(), "pgchaos-kube-stack-test"), logger: pino({ level: "silent" }), ...over };
}

/** A runtime that records what is asked of it and does nothing. */
function recordingRuntime() {
  const asked: string[] = [];
  const record = (what: string) => async () => {
    asked.push(what);
    throw new Error(`${what}: not in a test`);
  };
  const runtime = {
    platform: "kind",
    ensureCluster: record("ensureCluster"),
    loadImage: record("loadImage"),
    nodeContainer: (n: string) => n,
    nodePortHost: record("nodePortHost"),
    clientsAddress: record("clientsAddress"),
    clusterExists: record("clusterExists"),
    deleteCluster: record("deleteCluster"),
    existingClients: record("existingClients"),
  } as unknown as KubeRuntime;
  return { runtime, asked };
}

/** A KubeCluster over stand-in pods: no API server (the clients are never used by what is tested). */
function kubeCluster(exec: PodExec, over: Partial<ClusterSpec> = {}): KubeCluster {
  const passwords = { superuser: "s", replication: "r", rewind: "w" };
  return new KubeCluster(spec(over), "ab12cd34", recordingRuntime().runtime, {} as KubeClients, false, "127.0.0.1", passwords, TEST_IMAGE, testStack(), exec);
}

describe("the run's stack on Kubernetes", () => {
  it("runs the profile as its version does, and reports the stack and the image", () => {
    const c = kubeCluster(fakePods({}).exec);
    // fast asks ttl 10; Patroni 4 raises it to 20 (and the bring-up's with it).
    expect(c.settings).toMatchObject({ stack: "patroni@4.0.7", stackInfo: { version: "4.0.7", package: { name: "patroni" } }, ttl: 20, image: TEST_IMAGE });
    expect(c.settings.adjustedByStack).toEqual(expect.arrayContaining([expect.stringMatching(/^ttl 10 → 20: Patroni 4\.0\.7/)]));
    expect(c.stack.bringUpTimings().ttl).toBe(20);
  });

  it("checks the pod's Patroni against the run's, naming both and how to build the right image", async () => {
    const answer = (stdout: string, exitCode = 0): PodExec => async (_node, argv) => {
      expect(argv).toEqual(["patroni", "--version"]);
      return { exitCode, stdout, stderr: exitCode ? "patroni: not found" : "" };
    };
    await expect(checkPodPatroni(answer("patroni 4.0.7\n"), "pg-0", testStack("patroni@4.0.7"), TEST_IMAGE)).resolves.toBeUndefined();
    const wrong = checkPodPatroni(answer("patroni 3.0.2\n"), "pg-0", testStack("patroni@4.1.5"), "registry.example.com/mine:1.0");
    await expect(wrong).rejects.toThrow(EnvironmentError);
    await expect(checkPodPatroni(answer("patroni 3.0.2\n"), "pg-0", testStack("patroni@4.1.5"), "registry.example.com/mine:1.0")).rejects.toThrow(
      "image registry.example.com/mine:1.0 runs Patroni 3.0.2, and this run is patroni@4.1.5: build the image for it with `npm run image -- --stack patroni@4.1.5`",
    );
    await expect(checkPodPatroni(answer("", 127), "pg-0", testStack(), TEST_IMAGE)).rejects.toThrow(/`patroni --version` in pod pg-0 .* failed: patroni: not found/);
  });
});

describe("the image a Kubernetes run deploys", () => {
  it("is built for the run's stack before any cluster is created, where the nodes load images from this host", async () => {
    const { runtime, asked } = recordingRuntime();
    const built: string[] = [];
    const withBuild = { ...runtime, buildImage: async (stack: PatroniHaStack) => (built.push(stack.info.name), TEST_IMAGE) } as KubeRuntime;
    await expect(KubeCluster.deploy(spec({ stack: testStack("patroni@4.1.5") }), withBuild)).rejects.toThrow("ensureCluster: not in a test");
    expect(built).toEqual(["patroni@4.1.5"]);
    expect(asked).toEqual(["ensureCluster"]);
  });

  it("must be named where the nodes pull (no build here), and is refused before anything is created", async () => {
    const { runtime, asked } = recordingRuntime();
    await expect(KubeCluster.deploy(spec(), runtime)).rejects.toThrow(UsageError);
    await expect(KubeCluster.deploy(spec(), runtime)).rejects.toThrow(/needs an image its nodes can pull: set PGCHAOS_KUBE_IMAGE/);
    expect(asked).toEqual([]);
  });
});

describe("switchover and failover on Kubernetes go through the stack", () => {
  it("failover retries Patroni's 412 and succeeds; on 4.x it does not name the leader", async () => {
    const pods = fakePods({
      "GET /cluster": [cluster("pg-0")],
      "POST /failover": [
        { status: 412, body: "failover is not possible: no good candidates have been found" },
        { status: 200, body: 'Successfully failed over to "pg-2"' },
      ],
    });
    const r = await kubeCluster(pods.exec).failover("pg-2");
    expect(r).toEqual({ from: "pg-0", to: "pg-2" });
    // Asked of the leader, twice, with the candidate alone (`leader` would make 3.2+ run a switchover).
    expect(pods.posts()).toEqual([
      { node: "pg-0", method: "POST", path: "/failover", body: { candidate: "pg-2" } },
      { node: "pg-0", method: "POST", path: "/failover", body: { candidate: "pg-2" } },
    ]);
  });

  it("failover gives up at once on an answer that is not 412 or 503", async () => {
    const pods = fakePods({ "GET /cluster": [cluster("pg-0")], "POST /failover": [{ status: 400, body: "Failover could be performed only to a specific candidate" }] });
    await expect(kubeCluster(pods.exec).failover("pg-1")).rejects.toThrow("POST /failover via pg-0 refused: HTTP 400");
    expect(pods.posts()).toHaveLength(1);
  });

  it("switchover asks the leader from GET /cluster, skipping a pod that does not answer", async () => {
    const pods = fakePods({
      "GET /cluster": [{ exitCode: 1, stderr: 'pods "pg-0" not found' }, cluster("pg-1")],
      "POST /switchover": [{ status: 200, body: 'Successfully switched over to "pg-2"' }],
    });
    const r = await kubeCluster(pods.exec).switchover({ candidate: "pg-2" });
    expect(r).toEqual({ from: "pg-1", to: "pg-2" });
    expect(pods.calls.filter((c) => c.path === "/cluster").map((c) => c.node)).toEqual(["pg-0", "pg-1"]);
    expect(pods.posts()).toEqual([{ node: "pg-1", method: "POST", path: "/switchover", body: { leader: "pg-1", candidate: "pg-2" } }]);
  });

  it("switchover parses Patroni's answer over pgchaos-ctl rest", async () => {
    const names = ["pgchaos-0", "pgchaos-1", "pgchaos-2"];
    const pods = fakePods({ "GET /cluster": [cluster("pgchaos-0", names)], "POST /switchover": [{ status: 200, body: 'Successfully switched over to "pgchaos-1"' }] });
    expect(await testStack().switchover(podAgentApi(pods.exec), names, {})).toEqual({ from: "pgchaos-0", to: "pgchaos-1" });
    expect(pods.posts()).toEqual([{ node: "pgchaos-0", method: "POST", path: "/switchover", body: { leader: "pgchaos-0" } }]);
  });

  it("stops waiting when the run is interrupted", async () => {
    const ac = new AbortController();
    const pods = fakePods({ "GET /cluster": [cluster("pg-0")], "POST /switchover": [{ status: 503, body: "Switchover failed" }] });
    const c = kubeCluster(pods.exec, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error("interrupted by SIGINT")), 300);
    const started = performance.now();
    await expect(c.switchover({})).rejects.toThrow("interrupted by SIGINT");
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
