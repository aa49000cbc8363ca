/**
 * The local listeners of `--platform kube` against a stand-in port-forward: each "pod" is a TCP server on
 * loopback that answers with its own name, and the forward connects the client's socket to it, as the API
 * server's port-forward does to the pod's loopback. Nothing here reaches a cluster.
 */
import { afterEach, describe, expect, it } from "vitest";
import { connect, createServer, type Server } from "node:net";
import { LocalForwarder, type PodForward } from "../forward.ts";
import { apiPortForward, podBehindService, roundRobin } from "./forward.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { PassThrough } from "node:stream";

const servers: Server[] = [];
const forwarders: LocalForwarder[] = [];

afterEach(async () => {
  for (const f of forwarders.splice(0)) await f.close();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A "pod": answers every line with `<name>:<line>`. */
async function pod(name: string): Promise<number> {
  const s = createServer((sock) => {
    sock.on("data", (d) => sock.write(`${name}:${d.toString()}`));
    sock.on("error", () => undefined);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return (s.address() as { port: number }).port;
}

/** Port-forward stand-in: the pod name maps to a local port; a missing pod fails as the API server's 404 does. */
function standInForward(pods: Record<string, number>, calls: string[]): PodForward {
  return async (namespace, name, port, io) => {
    calls.push(`${namespace}/${name}:${port}`);
    const p = pods[name];
    if (p === undefined) throw new Error(`pods "${name}" not found`);
    const upstream = connect({ host: "127.0.0.1", port: p });
    await new Promise<void>((res, rej) => upstream.once("connect", res).once("error", rej));
    io.input.pipe(upstream);
    upstream.pipe(io.output);
    const closed = new Promise<void>((res) => upstream.once("close", () => res()));
    return { close: () => upstream.destroy(), closed };
  };
}

/** One exchange through the forwarder: what came back, or the error that closed the connection. */
function ask(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const c = connect({ host: "127.0.0.1", port });
    let got = "";
    c.on("connect", () => c.write(line));
    c.on("data", (d) => {
      got += d.toString();
      c.end();
    });
    c.on("error", (e) => resolve(`error ${(e as NodeJS.ErrnoException).code}`));
    c.on("close", () => resolve(got || "closed"));
  });
}

describe("local listeners carried by port-forward", () => {
  it("sends each connection to the pod the target names at that moment, and notes who answered", async () => {
    const pods = { "pg-0": await pod("pg-0"), "pg-1": await pod("pg-1") };
    const calls: string[] = [];
    let leader = "pg-0";
    const f = await LocalForwarder.open({ what: "the leader Service", namespace: "ns", port: 5432, target: async () => ({ pod: leader }), forward: standInForward(pods, calls) });
    forwarders.push(f);
    expect(f.lastAnswered).toBeUndefined();
    expect(await ask(f.port, "a")).toBe("pg-0:a");
    expect(f.lastAnswered).toBe("pg-0");
    // A failover: the next connection goes to the new leader, as through the Service.
    leader = "pg-1";
    expect(await ask(f.port, "b")).toBe("pg-1:b");
    expect(f.lastAnswered).toBe("pg-1");
    expect(calls).toEqual(["ns/pg-0:5432", "ns/pg-1:5432"]);
  });

  it("closes a connection at once when there is no pod to send it to, or the forward fails, and says why", async () => {
    const refused: string[] = [];
    const none = await LocalForwarder.open({
      what: "the leader Service",
      namespace: "ns",
      port: 5432,
      target: async () => ({ none: "Service pg-primary has no endpoints" }),
      forward: standInForward({}, []),
      onRefused: (w) => refused.push(w),
    });
    forwarders.push(none);
    expect(await ask(none.port, "x")).toMatch(/^(closed|error ECONNRESET)$/);
    const gone = await LocalForwarder.open({ what: "member pg-2", namespace: "ns", port: 5432, target: async () => ({ pod: "pg-2" }), forward: standInForward({}, []), onRefused: (w) => refused.push(w) });
    forwarders.push(gone);
    expect(await ask(gone.port, "x")).toMatch(/^(closed|error ECONNRESET)$/);
    expect(refused).toEqual(["no pod for the leader Service: Service pg-primary has no endpoints", 'port-forward to pg-2 for member pg-2 failed: pods "pg-2" not found']);
  });

  it("closes the client's connection when the pod's end closes, and every connection when it is closed", async () => {
    const p = await pod("pg-0");
    const f = await LocalForwarder.open({ what: "member pg-0", namespace: "ns", port: 5432, target: async () => ({ pod: "pg-0" }), forward: standInForward({ "pg-0": p }, []) });
    forwarders.push(f);
    const c = connect({ host: "127.0.0.1", port: f.port });
    await new Promise((r) => c.once("connect", r));
    c.write("hello");
    await new Promise((r) => c.once("data", r));
    expect(f.connections).toBe(1);
    const closed = new Promise((r) => c.once("close", r));
    await f.close();
    forwarders.splice(forwarders.indexOf(f), 1);
    await closed;
    expect(f.connections).toBe(0);
  });
});

describe("a member's listener when the pod's network agent starts", () => {
  it("goes to the port the target names at each connection, and drops the sessions opened before, which reconnect there", async () => {
    const direct = await pod("postgres");
    const relay = await pod("relay");
    const calls: string[] = [];
    let port = 5432;
    // The stand-in forward maps the pod's port to a local server: 5432 to PostgreSQL, 15432 to the agent's relay.
    const forward: PodForward = (ns, name, p, io) => standInForward({ [name]: p === 15432 ? relay : direct }, calls)(ns, name, p, io);
    const f = await LocalForwarder.open({ what: "member pg-0", namespace: "ns", port: 5432, target: async () => ({ pod: "pg-0", port }), forward });
    forwarders.push(f);
    const c = connect({ host: "127.0.0.1", port: f.port });
    await new Promise((r) => c.once("connect", r));
    c.write("a");
    expect(String(await new Promise((r) => c.once("data", r)))).toBe("postgres:a");
    port = 15432;
    const closed = new Promise((r) => c.once("close", r));
    f.dropAll();
    await closed;
    // Still listening: the next session goes through the relay.
    expect(await ask(f.port, "b")).toBe("relay:b");
    expect(calls).toEqual(["ns/pg-0:5432", "ns/pg-0:15432"]);
  });
});

describe("a listener that keeps a tunnel open ahead (docker's forward reach)", () => {
  /** A stand-in forward that, like docker's relay, connects only when the first bytes come, and counts its opens. */
  function lazyForward(pods: Record<string, number>, opens: string[], openMs = 0): PodForward {
    return async (namespace, name, port, io) => {
      opens.push(name);
      await new Promise((r) => setTimeout(r, openMs)); // a docker exec takes its time
      const p = pods[name];
      if (p === undefined) throw new Error(`no ${name}`);
      let upstream: ReturnType<typeof connect> | undefined;
      let end!: () => void;
      const closed = new Promise<void>((res) => (end = res));
      io.input.once("data", (first: Buffer) => {
        upstream = connect({ host: "127.0.0.1", port: p }, () => {
          upstream!.write(first);
          io.input.pipe(upstream!);
        });
        upstream.pipe(io.output);
        upstream.once("close", () => end());
      });
      return { close: () => (upstream ? upstream.destroy() : end()), closed };
    };
  }

  it("carries a connection through the tunnel opened before it came, and opens the next one ahead", async () => {
    const opens: string[] = [];
    const f = await LocalForwarder.open({ what: "member n1", namespace: "clients", port: 5432, target: async () => ({ pod: "n1" }), forward: lazyForward({ n1: await pod("n1") }, opens), spare: true });
    forwarders.push(f);
    await new Promise((r) => setTimeout(r, 50));
    expect(opens).toEqual(["n1"]); // opened on listen, before any connection
    expect(await ask(f.port, "a")).toBe("n1:a");
    expect(f.lastAnswered).toBe("n1");
    await new Promise((r) => setTimeout(r, 50));
    expect(opens).toEqual(["n1", "n1"]); // the first was used; one more waits
    expect(await ask(f.port, "b")).toBe("n1:b");
  });

  it("does not use a spare that died or leads elsewhere, and closes the spare when it is closed", async () => {
    const opens: string[] = [];
    let target = "n1";
    const pods = { n1: await pod("n1"), n2: await pod("n2") };
    const f = await LocalForwarder.open({ what: "the primary", namespace: "clients", port: 5432, target: async () => ({ pod: target }), forward: lazyForward(pods, opens), spare: true });
    forwarders.push(f);
    await new Promise((r) => setTimeout(r, 50));
    target = "n2";
    expect(await ask(f.port, "c")).toBe("n2:c");
    await f.close();
    forwarders.splice(forwarders.indexOf(f), 1);
    expect(opens[0]).toBe("n1");
    expect(opens).toContain("n2");
  });
  it("gives connections that come while the spare is still opening a tunnel each, and keeps one spare, not more", async () => {
    const opens: string[] = [];
    const f = await LocalForwarder.open({ what: "member n1", namespace: "clients", port: 5432, target: async () => ({ pod: "n1" }), forward: lazyForward({ n1: await pod("n1") }, opens, 100), spare: true });
    forwarders.push(f);
    expect(await Promise.all([ask(f.port, "x"), ask(f.port, "y"), ask(f.port, "z")])).toEqual(["n1:x", "n1:y", "n1:z"]);
    await new Promise((r) => setTimeout(r, 200));
    // The first spare (taken by one), a tunnel for each of the two that found none, and one spare waiting again.
    expect(opens).toHaveLength(4);
  });

  it("tries one tunnel and a half per connection to a member that stays down, not two", async () => {
    const opens: string[] = [];
    const refused: string[] = [];
    const f = await LocalForwarder.open({ what: "beside n3", namespace: "n3", port: 5432, target: async () => ({ pod: "n3" }), forward: lazyForward({}, opens), spare: true, onRefused: (w) => refused.push(w) });
    forwarders.push(f);
    await new Promise((r) => setTimeout(r, 50));
    for (const x of ["a", "b", "c", "d"]) expect(await ask(f.port, x)).toMatch(/^(closed|error ECONNRESET)$/);
    expect(refused).toHaveLength(4);
    // The spare made on listening, then each connection's own, and a new spare every other connection.
    expect(opens).toHaveLength(1 + 4 + 2);
  });
});

describe("the pod behind a Service", () => {
  const slice = (...eps: Array<{ pod?: string; ready?: boolean; terminating?: boolean }>) => ({
    endpoints: eps.map((e) => ({
      addresses: ["10.0.0.1"],
      conditions: { ready: e.ready ?? true, terminating: e.terminating ?? false },
      ...(e.pod ? { targetRef: { kind: "Pod", name: e.pod } } : {}),
    })),
  });

  it("is a ready endpoint naming a pod; not-ready and terminating ones are skipped", () => {
    expect(podBehindService("pg-primary", [slice({ pod: "pg-1" })])).toEqual({ pod: "pg-1" });
    expect(podBehindService("pg-primary", [slice({ pod: "pg-0", ready: false }, { pod: "pg-2", terminating: true }, { pod: "pg-1" })])).toEqual({ pod: "pg-1" });
  });

  it("says why there is none", () => {
    expect(podBehindService("pg-primary", [])).toEqual({ none: "Service pg-primary has no endpoints (no pod carries its labels)" });
    expect(podBehindService("pg-primary", [slice({ pod: "pg-0", ready: false }), slice({})])).toEqual({ none: "Service pg-primary has no ready endpoint naming a pod" });
  });

  it("spreads connections over two pods labelled primary, as kube-proxy would (a split brain the Service shows)", () => {
    const rr = roundRobin();
    const two = [slice({ pod: "pg-2" }, { pod: "pg-0" })];
    expect([1, 2, 3].map(() => (podBehindService("pg-primary", two, rr) as { pod: string }).pod)).toEqual(["pg-0", "pg-2", "pg-0"]);
  });
});

describe("the API server's port-forward, through client-node", () => {
  /**
   * A stand-in for client-node's WebSocket handler that speaks the kubelet's channel protocol: each channel's first
   * frame is the port number (2 bytes, little-endian), then data on channel 0 and errors on channel 1.
   */
  function kubelet() {
    const ws = { closed: false, sent: [] as Buffer[], protocol: "v4.channel.k8s.io", close() { this.closed = true; }, send(b: Buffer) { this.sent.push(b); }, on() {} };
    let deliver: ((channel: number, data: Buffer) => boolean) | undefined;
    const handler = {
      connect: async (_path: string, _t: unknown, binary: (channel: number, data: Buffer) => boolean) => {
        deliver = binary;
        return ws;
      },
    };
    const port = Buffer.from([0x38, 0x15]); // 5432
    return { ws, handler, frame: (channel: number, data: Buffer) => deliver!(channel, data), port };
  }

  it("keeps the connection when the error channel's first frame, the port number, comes after the tunnel opened", async () => {
    const k = kubelet();
    const forward = await apiPortForward(new KubeConfig(), k.handler as never);
    const output = new PassThrough();
    await forward("ns", "pg-0", 5432, { input: new PassThrough(), output });
    k.frame(0, k.port);
    k.frame(1, k.port);
    expect(k.ws.closed).toBe(false);
    k.frame(0, Buffer.from("R"));
    expect(output.read()?.toString()).toBe("R");
    // An error from the kubelet (nothing listens in the pod) ends it.
    k.frame(1, Buffer.from("error forwarding port 5432: connection refused"));
    expect(k.ws.closed).toBe(true);
  });

  it("ends the connection on an error that comes in one frame with the port number", async () => {
    const k = kubelet();
    const forward = await apiPortForward(new KubeConfig(), k.handler as never);
    await forward("ns", "pg-0", 5432, { input: new PassThrough(), output: new PassThrough() });
    k.frame(0, k.port);
    k.frame(1, Buffer.concat([k.port, Buffer.from("error forwarding port 5432")]));
    expect(k.ws.closed).toBe(true);
  });
});
