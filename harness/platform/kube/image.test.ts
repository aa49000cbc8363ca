import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { resolve } from "node:path";
import { execa } from "execa";
import { assertPinnedImage } from "./image.ts";
import { execExitCode, parseRestOutput, podCommands } from "./pod-ops.ts";

const FIXTURES = resolve(import.meta.dirname, "../../../fixtures/image");

describe("the image", () => {
  it("accepts versioned tags and digests and refuses moving references", () => {
    for (const ok of ["pgchaos/member:patroni-4.1.5-pg15-0123456789ab", "postgres:17.6-bookworm", "registry:5000/a/b:v1.2.3", `x/y@sha256:${"a".repeat(64)}`]) expect(() => assertPinnedImage(ok), ok).not.toThrow();
    for (const bad of ["x/y:latest", "x/y", "registry:5000/x/y", "x/y:main", "x/y:nightly", "x/y:feature-branch", "x/y@sha256:abc", "x/y:"]) {
      expect(() => assertPinnedImage(bad), bad).toThrow(/not pinned/);
    }
  });

  it("ships shell scripts that parse", async () => {
    for (const f of ["pod-init.sh", "pgchaos-ctl.sh"]) {
      const r = await execa("bash", ["-n", resolve(FIXTURES, f)], { reject: false });
      expect(r.exitCode, `${f}: ${r.stderr}`).toBe(0);
    }
  });
});

describe("pgchaos-ctl rest against a stand-in Patroni on the loopback", () => {
  let server: Server;
  let url = "";
  const seen: Array<{ method?: string; url?: string; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, body });
        if (req.url === "/switchover") {
          res.writeHead(412);
          res.end("candidate name does not match with sync_standby");
        } else {
          res.writeHead(200, { "content-type": "application/json" });
          res.end('{"state":"running"}');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const addr = server.address() as { port: number };
    url = `http://127.0.0.1:${addr.port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const ctl = (argv: string[]) =>
    execa("bash", [resolve(FIXTURES, "pgchaos-ctl.sh"), ...argv.slice(1)], { reject: false, env: { PGCHAOS_PYTHON: "python3", PGCHAOS_REST_URL: url } });

  it("sends the method, path and JSON body, and prints status then body", async () => {
    const r = await ctl(podCommands.rest("PATCH", "/config", { ttl: 30 }));
    expect(r.exitCode).toBe(0);
    expect(parseRestOutput(r.stdout)).toEqual({ status: 200, body: '{"state":"running"}' });
    expect(seen.at(-1)).toEqual({ method: "PATCH", url: "/config", body: '{"ttl":30}' });
  });

  it("reports an HTTP error status rather than failing", async () => {
    const r = await ctl(podCommands.rest("POST", "/switchover", { leader: "pg-0" }));
    expect(parseRestOutput(r.stdout)).toEqual({ status: 412, body: "candidate name does not match with sync_standby" });
  });

  it("refuses bad usage with exit status 2", async () => {
    expect((await ctl(["pgchaos-ctl", "kill", "etcd"])).exitCode).toBe(2);
    expect((await ctl(["pgchaos-ctl", "frobnicate"])).exitCode).toBe(2);
  });
});

describe("pod operations", () => {
  it("builds pgchaos-ctl command lines", () => {
    expect(podCommands.kill("postgres")).toEqual(["/usr/local/bin/pgchaos-ctl", "kill", "postgres"]);
    expect(podCommands.pause("all")).toEqual(["/usr/local/bin/pgchaos-ctl", "pause", "all"]);
    expect(podCommands.rest("GET", "/cluster")).toEqual(["/usr/local/bin/pgchaos-ctl", "rest", "GET", "/cluster"]);
    expect(() => podCommands.rest("GET", "cluster")).toThrow(/must start with/);
  });

  it("parses rest output and exec statuses", () => {
    expect(() => parseRestOutput("Traceback ...")).toThrow(/unexpected output/);
    expect(execExitCode({ status: "Success" })).toBe(0);
    expect(execExitCode({ status: "Failure", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "2" }] } })).toBe(2);
    expect(execExitCode({ status: "Failure", reason: "InternalError" })).toBe(1);
  });
});
