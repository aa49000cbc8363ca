/**
 * The preflight of `--platform kube --context NAME`, against kubeconfig files in a temporary folder: an unknown
 * context, a server on a closed loopback port, and one that answers (a local HTTP server standing in for the API
 * server's GET /version). Nothing leaves this machine's loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contextProblems, describeConnectError, describeVersionAnswer, kubeconfigSource } from "./context.ts";

let dir: string;
let answering: Server;
let answeringPort: number;
let closedPort: number;
const seen: Array<string | undefined> = [];

/** A port nothing listens on: bound by the kernel, then released. */
async function freeClosedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function kubeconfig(contexts: Array<{ name: string; server: string; token?: string }>, current?: string): string {
  const yaml = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    // @kubernetes/client-node refuses plain HTTP unless TLS verification is off (the stand-in API server is HTTP).
    ...contexts.flatMap((c) => [`- name: ${c.name}-cluster`, "  cluster:", `    server: ${c.server}`, ...(c.server.startsWith("http:") ? ["    insecure-skip-tls-verify: true"] : [])]),
    "users:",
    ...contexts.flatMap((c) => [`- name: ${c.name}-user`, "  user:", `    token: ${c.token ?? "t0ken"}`]),
    "contexts:",
    ...contexts.flatMap((c) => [`- name: ${c.name}`, "  context:", `    cluster: ${c.name}-cluster`, `    user: ${c.name}-user`]),
    `current-context: ${current ?? contexts[0]?.name ?? ""}`,
  ];
  return yaml.join("\n") + "\n";
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pgchaos-kubeconfig-"));
  closedPort = await freeClosedPort();
  answering = createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (req.headers.authorization === "Bearer expired") {
      res.writeHead(401, { "content-type": "application/json" });
      res.end('{"kind":"Status","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"major":"1","minor":"33","gitVersion":"v1.33.1"}');
  });
  await new Promise<void>((r) => answering.listen(0, "127.0.0.1", () => r()));
  answeringPort = (answering.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((r) => answering.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("the kube platform's context preflight", () => {
  it("names an unknown context and the contexts the kubeconfig has", async () => {
    const path = file("two.yaml", kubeconfig([{ name: "prod-eks", server: `http://127.0.0.1:${closedPort}` }, { name: "kind-pgchaos", server: `http://127.0.0.1:${closedPort}` }]));
    const problems = await contextProblems({ context: "staging", kubeconfig: path });
    expect(problems).toEqual([`context "staging" is not in the kubeconfig (${path}); its contexts are "prod-eks", "kind-pgchaos" (\`kubectl config get-contexts\` lists them)`]);
  });

  it("says so, naming the context, within seconds when its API server does not answer (a closed loopback port)", async () => {
    const path = file("closed.yaml", kubeconfig([{ name: "gone", server: `https://127.0.0.1:${closedPort}` }]));
    const t0 = performance.now();
    const problems = await contextProblems({ context: "gone", kubeconfig: path });
    expect(performance.now() - t0).toBeLessThan(6000);
    expect(problems).toEqual([`the API server of context "gone" (https://127.0.0.1:${closedPort}) does not answer: connection refused (nothing listens there)`]);
  });

  it("passes when the API server answers GET /version with the kubeconfig's credentials, and says when it refuses them", async () => {
    const path = file("ok.yaml", kubeconfig([{ name: "ok", server: `http://127.0.0.1:${answeringPort}` }, { name: "stale", server: `http://127.0.0.1:${answeringPort}`, token: "expired" }]));
    expect(await contextProblems({ context: "ok", kubeconfig: path })).toEqual([]);
    expect(seen).toContain("Bearer t0ken");
    expect(await contextProblems({ context: "stale", kubeconfig: path })).toEqual([
      `the API server of context "stale" (http://127.0.0.1:${answeringPort}) refuses the kubeconfig's credentials (HTTP 401): log in again or refresh the token`,
    ]);
  });

  it("says when the kubeconfig cannot be read", async () => {
    const problems = await contextProblems({ context: "x", kubeconfig: join(dir, "missing.yaml") });
    expect(problems).toEqual([expect.stringMatching(/^the kubeconfig \(.*missing\.yaml\) cannot be read: .*ENOENT/)]);
  });

  it("reads the default kubeconfig from KUBECONFIG, and says which it read", () => {
    expect(kubeconfigSource({ context: "c", kubeconfig: "/k" })).toBe("/k");
    expect(kubeconfigSource({ context: "c" }, { KUBECONFIG: "/a:/b" })).toBe("KUBECONFIG=/a:/b");
    expect(kubeconfigSource({ context: "c" }, {})).toBe("~/.kube/config");
  });

  it("puts connection errors and answers in words", () => {
    expect(describeConnectError("ETIMEDOUT", "")).toBe("no answer within 5 s");
    expect(describeConnectError("ENOTFOUND", "getaddrinfo ENOTFOUND x")).toBe("its host name does not resolve");
    expect(describeConnectError("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate")).toMatch(/TLS certificate fails the kubeconfig's check/);
    expect(describeVersionAnswer(200, "{}")).toBeUndefined();
    expect(describeVersionAnswer(403, "forbidden")).toBeUndefined();
    expect(describeVersionAnswer(503, "etcd not ready")).toBe("answers GET /version with HTTP 503: etcd not ready");
  });
});
