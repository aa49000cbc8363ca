import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { RELAY, reachMode } from "./reach.ts";
import { UsageError } from "../../util/errors.ts";

const linuxRoot = { linux: true, root: true, desktop: false, localEngine: true };

describe("how a docker run reaches its containers", () => {
  it("is direct only where this machine can route to them and enter them: Linux, root, a local engine that is not Docker Desktop", () => {
    expect(reachMode(linuxRoot)).toBe("direct");
    expect(reachMode({ ...linuxRoot, root: false })).toBe("forward");
    expect(reachMode({ ...linuxRoot, linux: false })).toBe("forward");
    expect(reachMode({ ...linuxRoot, desktop: true })).toBe("forward");
    expect(reachMode({ ...linuxRoot, localEngine: false })).toBe("forward");
  });

  it("follows PGCHAOS_DOCKER_REACH, and refuses a value it cannot honour, saying what to do", () => {
    expect(reachMode({ ...linuxRoot, env: "forward" })).toBe("forward");
    expect(reachMode({ ...linuxRoot, env: "" })).toBe("direct");
    expect(() => reachMode({ ...linuxRoot, env: "tunnel" })).toThrow(UsageError);
    expect(() => reachMode({ ...linuxRoot, env: "tunnel" })).toThrow('PGCHAOS_DOCKER_REACH="tunnel": use direct (root on Linux) or forward (any machine)');
    expect(() => reachMode({ ...linuxRoot, root: false, env: "direct" })).toThrow(/needs root on Linux .* unset it/);
  });
});

describe("the relay forward reach runs in a container for each connection", () => {
  let server: Server;
  let port = 0;
  const received: string[] = [];

  beforeAll(async () => {
    // An upper-casing echo that closes after "bye", as a server ending the session does.
    server = createServer((s) => {
      s.on("data", (d: Buffer) => {
        received.push(d.toString());
        s.write(d.toString().toUpperCase());
        if (d.toString().includes("bye")) s.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const relay = (targetPort: number) => spawn("python3", ["-c", RELAY, "127.0.0.1", String(targetPort)], { stdio: ["pipe", "pipe", "pipe"] });

  it("carries bytes both ways and ends when the server closes", async () => {
    const p = relay(port);
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stdin.write("hello ");
    await new Promise((r) => setTimeout(r, 200));
    p.stdin.write("bye");
    const code = await new Promise<number | null>((r) => p.once("close", r));
    expect(code).toBe(0);
    expect(out).toBe("HELLO BYE");
    expect(received.join("")).toBe("hello bye");
  });

  it("connects only when its client's first bytes arrive, so it can be started ahead, and exits at once if none ever come", async () => {
    let connections = 0;
    const counting = createServer((s) => {
      connections++;
      s.on("data", (d: Buffer) => s.end(d.toString().toUpperCase()));
    });
    await new Promise<void>((r) => counting.listen(0, "127.0.0.1", r));
    try {
      const p = relay((counting.address() as { port: number }).port);
      let out = "";
      p.stdout.on("data", (d: Buffer) => (out += d.toString()));
      await new Promise((r) => setTimeout(r, 500));
      expect(connections).toBe(0);
      p.stdin.write("late");
      expect(await new Promise<number | null>((r) => p.once("close", r))).toBe(0);
      expect(connections).toBe(1);
      expect(out).toBe("LATE");
      const unused = relay((counting.address() as { port: number }).port);
      unused.stdin.end();
      expect(await new Promise<number | null>((r) => unused.once("close", r))).toBe(0);
      expect(connections).toBe(1);
    } finally {
      counting.close();
    }
  });

  it("ends 5 s after its client went away when the server stays silent (a partitioned member)", { timeout: 20_000 }, async () => {
    // Half-open allowed: it neither answers nor closes, as a member behind a partition.
    const silent = createServer({ allowHalfOpen: true }, () => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const p = relay((silent.address() as { port: number }).port);
      p.stdin.write("hello");
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      p.stdin.end();
      await new Promise((r) => p.once("close", r));
      expect(performance.now() - t0).toBeGreaterThan(4000);
      expect(performance.now() - t0).toBeLessThan(12_000);
    } finally {
      silent.close();
    }
  });

  it("exits non-zero at once when nothing listens, so the client's connection is closed", async () => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    await closed;
    const p = relay(port);
    p.stdin.write("hello");
    const code = await new Promise<number | null>((r) => p.once("close", r));
    expect(code).not.toBe(0);
    server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  });
});
