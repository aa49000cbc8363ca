/**
 * `--platform kube` and `--attach` through the CLI, as a user runs them, against kubeconfig files in a temporary
 * folder: a context the file lacks, an API server on a closed loopback port, and a stand-in API server on loopback
 * that answers GET /version (and nothing else), against which every refusal must come before anything is
 * deployed. Each exits 2 within seconds, naming what is wrong. Nothing leaves this machine's loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "./cli-run.ts";

let dir: string;
let kubeconfig: string;
let closedPort: number;
let api: Server;
const requests: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pgchaos-cli-kube-"));
  const probe = createTcpServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  // Answers GET /version, and lists of pods (empty); nothing else: a run that got past its refusals would fail on
  // its first other call, and the test would see the call.
  api = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.setHeader("content-type", "application/json");
    if (req.method === "GET" && req.url === "/version") return res.end('{"major":"1","minor":"33","gitVersion":"v1.33.1"}');
    if (req.method === "GET" && /^\/api\/v1\/namespaces\/[^/]+\/pods(\?|$)/.test(req.url ?? "")) return res.end('{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}');
    res.statusCode = 404;
    res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}');
  });
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", () => r()));
  const apiPort = (api.address() as { port: number }).port;
  const cluster = (name: string, server: string) => [`- name: ${name}`, "  cluster:", `    server: ${server}`, ...(server.startsWith("http:") ? ["    insecure-skip-tls-verify: true"] : [])];
  const context = (name: string) => [`- name: ${name}`, "  context:", `    cluster: ${name}`, "    user: u"];
  kubeconfig = join(dir, "config");
  writeFileSync(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      ...cluster("gone", `https://127.0.0.1:${closedPort}`),
      ...cluster("standin", `http://127.0.0.1:${apiPort}`),
      "users:",
      "- name: u",
      "  user:",
      "    token: t",
      "contexts:",
      ...context("gone"),
      ...context("standin"),
      "current-context: gone",
    ].join("\n") + "\n",
  );
});

afterAll(async () => {
  await new Promise((r) => api.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const IMAGE = "registry.example.com/pgchaos/patroni:4.0.10-pg17.6";
const run = (args: string[], env: Record<string, string> = {}) => cli(args, { timeout: 30_000, env: { KUBECONFIG: kubeconfig, ...env } });

describe("--platform kube through the CLI", () => {
  it("exits 2 in seconds naming a context the kubeconfig lacks", async () => {
    const t0 = performance.now();
    const r = await run(["primary-kill", "--platform", "kube", "--context", "prod-eks"], { PGCHAOS_KUBE_IMAGE: IMAGE });
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/the kube platform cannot run on context "prod-eks":\n {2}- context "prod-eks" is not in the kubeconfig \(KUBECONFIG=.*\); its contexts are "gone", "standin"/);
  });

  it("exits 2 in seconds naming the context whose API server does not answer", async () => {
    const t0 = performance.now();
    const r = await run(["primary-kill", "--platform", "kube", "--context", "gone"], { PGCHAOS_KUBE_IMAGE: IMAGE });
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`the API server of context "gone" (https://127.0.0.1:${closedPort}) does not answer: connection refused`);
  });

  it("needs --context, and an image the cluster's nodes can pull", async () => {
    const none = await run(["primary-kill", "--platform", "kube"]);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/--platform kube needs --context NAME/);
    const noImage = await run(["primary-kill", "--platform", "kube", "--context", "standin"]);
    expect(noImage.exitCode).toBe(2);
    expect(noImage.stderr).toMatch(/cannot load an image into the cluster's nodes .*set PGCHAOS_KUBE_IMAGE/);
  });

  it("refuses node failure and the link faults before deploying anything, and a drain without --allow-node-faults", async () => {
    const before = requests.length;
    for (const [scenario, why] of [
      ["primary-node-failure", /needs "node-failure", which the kube platform does not offer: .*never without --allow-node-faults/],
      ["primary-latency", /needs "latency", which the kube platform does not offer: it acts on the pod's link \(eth0\).*port-forward/],
      ["link-down", /needs "link-down", which the kube platform does not offer: it acts on the pod's link \(eth0\)/],
      ["primary-drain", /needs "node-drain", which the kube platform does not offer: .*pass --allow-node-faults/],
    ] as const) {
      const r = await run([scenario, "--platform", "kube", "--context", "standin"], { PGCHAOS_KUBE_IMAGE: IMAGE });
      expect(r.exitCode, scenario).toBe(2);
      expect(r.stderr, scenario).toMatch(new RegExp(`scenario ${scenario} cannot run on the kube platform`));
      expect(r.stderr, scenario).toMatch(why);
    }
    // The API server was asked GET /version and nothing else: nothing was created.
    expect(requests.slice(before).every((q) => q === "GET /version")).toBe(true);
    const allowed = await run(["primary-node-failure", "--platform", "kube", "--context", "standin", "--allow-node-faults"], { PGCHAOS_KUBE_IMAGE: IMAGE });
    expect(allowed.exitCode).toBe(2);
    expect(allowed.stderr).toMatch(/--allow-node-faults or not/);
  }, 60_000);

  it("takes its flags only with --platform kube", async () => {
    const r = await run(["primary-kill", "--platform", "kind", "--allow-node-faults"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--allow-node-faults is for --platform kube .*not --platform kind/);
    const ns = await run(["primary-kill", "--namespace", "team-a"]);
    expect(ns.exitCode).toBe(2);
    expect(ns.stderr).toMatch(/--namespace is for --platform kube/);
  });
});

describe("--attach through the CLI", () => {
  it("names an unknown operator, and one without --attach", async () => {
    const r = await run(["primary-kill", "--attach", "acid-minimal-cluster", "--operator", "stackgres", "--context", "standin"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown operator "stackgres": --operator takes spilo .*pgo .*cnpg/);
    const alone = await run(["primary-kill", "--operator", "cnpg"]);
    expect(alone.exitCode).toBe(2);
    expect(alone.stderr).toMatch(/--operator names the operator of an --attach target: give --attach too/);
  });

  it("exits 2 with the reason when no pods are found", async () => {
    const before = requests.length;
    const r = await run(["primary-kill", "--attach", "acid-minimal-cluster", "--context", "standin", "--namespace", "db"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--attach acid-minimal-cluster: no pods in namespace db match "application=spilo,cluster-name=acid-minimal-cluster" or .*cnpg\.io\/podRole=instance"/);
    // It looked for each operator's pods, and did nothing else.
    expect(requests.slice(before).filter((q) => q !== "GET /version").every((q) => q.startsWith("GET /api/v1/namespaces/db/pods?labelSelector="))).toBe(true);
  });

  it("refuses a fault an attached run never injects before asking the cluster anything, and flags that are the operator's", async () => {
    const before = requests.length;
    const r = await run(["primary-isolate", "--attach", "acid-minimal-cluster", "--context", "standin", "--namespace", "db"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/scenario primary-isolate cannot run on the kube --attach platform/);
    expect(r.stderr).toMatch(/an ephemeral container stays in the pod's spec until the pod is recreated/);
    const stack = await run(["primary-kill", "--attach", "acid-minimal-cluster", "--context", "standin", "--stack", "patroni@4.0.7", "--sync"]);
    expect(stack.exitCode).toBe(2);
    expect(stack.stderr).toMatch(/--stack, --sync do not apply to --attach: the operator's cluster runs its own Patroni and settings/);
    expect(requests.slice(before)).toEqual([]);
  });

  it("exits 2 naming the context whose API server does not answer", async () => {
    const r = await run(["primary-kill", "--attach", "cnpg.io/cluster=cluster-example", "--context", "gone"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`the API server of context "gone" (https://127.0.0.1:${closedPort}) does not answer`);
  });
});
