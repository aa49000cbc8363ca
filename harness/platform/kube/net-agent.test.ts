/**
 * The network agent of `--platform kube` (net-agent.ts): its ephemeral container against the Pod schema, and the one
 * thing a partition there rests on, shown on this machine's kernel in a network namespace of the test's own: the rule
 * that cuts the port-forward's clients (root's connections to PostgreSQL's port on loopback) leaves the relay's
 * connections through, so node probes still see a member the clients lost.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa, type ResultPromise } from "execa";
import type { V1Pod } from "@kubernetes/client-node";
import { validateObject } from "./openapi-validate.ts";
import { agentState, NET_AGENT, netAgentAdmissionProblem, netAgentContainer, portForwardClientRules, relayScript, RELAY_PORT, withNetAgent } from "./net-agent.ts";
import { iptablesRestoreArgv } from "../../faults/rules.ts";
import { kubePartitionRules } from "./rules.ts";
import { isolate } from "../../faults/grudge.ts";

const IMAGE = "registry.example.com/pgchaos/member:patroni-3.0.2-pg15-87b17fba2ab2";
const pod = (extra: Partial<V1Pod> = {}): V1Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "pg-1", namespace: "team-a", uid: "u1" },
  spec: { containers: [{ name: "postgres", image: IMAGE }] },
  ...extra,
});

describe("the network agent's container", () => {
  it("is an ephemeral container the Pod schema accepts: the member's image, root with NET_ADMIN, running the relay", () => {
    const p = withNetAgent(pod(), IMAGE, 5432);
    expect(() => validateObject(p)).not.toThrow();
    const c = p.spec!.ephemeralContainers!;
    expect(c.map((x) => x.name)).toEqual([NET_AGENT]);
    expect(c[0]!.image).toBe(IMAGE);
    expect(c[0]!.securityContext?.capabilities?.add).toContain("NET_ADMIN");
    expect(c[0]!.command?.slice(0, 3)).toEqual(["python3", "-u", "-c"]);
    // Added once: a pod that has it is returned as it is.
    expect(withNetAgent(p, IMAGE, 5432)).toBe(p);
    expect(() => netAgentContainer(IMAGE, RELAY_PORT)).toThrow(/bad PostgreSQL port/);
  });

  it("reads the agent's state from the pod's status, with the kubelet's reason when it does not run", () => {
    expect(agentState(pod())).toEqual({ state: "absent" });
    const added = withNetAgent(pod(), IMAGE, 5432);
    expect(agentState(added)).toEqual({ state: "waiting", why: "no status yet" });
    const status = (state: object) => ({ ...added, status: { ephemeralContainerStatuses: [{ name: NET_AGENT, image: IMAGE, imageID: "", ready: false, restartCount: 0, state }] } }) as V1Pod;
    expect(agentState(status({ waiting: { reason: "ErrImagePull", message: "not found" } }))).toEqual({ state: "waiting", why: "ErrImagePull: not found" });
    expect(agentState(status({ running: { startedAt: new Date() } }))).toEqual({ state: "running" });
    expect(agentState(status({ terminated: { exitCode: 1, reason: "Error" } }))).toEqual({ state: "terminated", why: "exit 1 (Error)" });
  });
});

describe("a namespace of the user's that Pod Security closes to the agent", () => {
  it("is refused before deploy, naming the level and the ways out; privileged or unlabelled passes", () => {
    expect(netAgentAdmissionProblem("team-a", { "pod-security.kubernetes.io/enforce": "baseline" })).toMatch(
      /^namespace team-a enforces Pod Security level "baseline" .*NET_ADMIN.*level "privileged", leave out --namespace.*kind or minikube$/,
    );
    expect(netAgentAdmissionProblem("team-a", { "pod-security.kubernetes.io/enforce": "restricted" })).toMatch(/"restricted"/);
    expect(netAgentAdmissionProblem("team-a", { "pod-security.kubernetes.io/enforce": "privileged" })).toBeUndefined();
    expect(netAgentAdmissionProblem("team-a", { "pod-security.kubernetes.io/warn": "restricted" })).toBeUndefined();
    expect(netAgentAdmissionProblem("team-a", undefined)).toBeUndefined();
  });
});

describe("a partition's rules where clients come by port-forward", () => {
  const api = { serviceIp: "10.96.0.1", servicePort: 443, endpoints: [{ ip: "172.18.0.2", port: 6443 }] };
  const all = ["pg-0", "pg-1", "pg-2"];
  const ips: Record<string, string> = { "pg-0": "10.244.1.5", "pg-1": "10.244.2.7", "pg-2": "10.244.3.9" };

  it("cuts peers by address as on kind, and the clients on the pod's loopback, by the port-forward's uid", () => {
    const rules = kubePartitionRules({ grudge: isolate("pg-1", all, { clients: true }), all, addressOf: (n) => ips[n]!, clients: { portForward: { pgPort: 5432 } }, api, tag: "pgchaos-ab12" });
    const on = (n: string) => rules.filter((r) => r.node === n).map((r) => r.args.join(" "));
    expect(on("pg-1")).toEqual([
      "-A INPUT -s 10.244.1.5 -m comment --comment pgchaos-ab12 -j DROP",
      "-A INPUT -s 10.244.3.9 -m comment --comment pgchaos-ab12 -j DROP",
      "-A OUTPUT -o lo -p tcp --dport 5432 -m owner --uid-owner 0 -m comment --comment pgchaos-ab12 -j DROP",
      "-A OUTPUT -d 10.96.0.1 -p tcp --dport 443 -m comment --comment pgchaos-ab12 -j DROP",
      "-A OUTPUT -d 172.18.0.2 -p tcp --dport 6443 -m comment --comment pgchaos-ab12 -j DROP",
    ]);
    expect(on("pg-0")).toEqual(["-A INPUT -s 10.244.2.7 -m comment --comment pgchaos-ab12 -j DROP"]);
    // Without the clients in the grudge, no loopback rule.
    const noClients = kubePartitionRules({ grudge: isolate("pg-1", all, { clients: false }), all, addressOf: (n) => ips[n]!, clients: { portForward: { pgPort: 5432 } }, api, tag: "pgchaos-ab12" });
    expect(noClients.some((r) => r.args.includes("lo"))).toBe(false);
  });
});

/** Runs in the test's network namespace. */
const inNs = (ns: string, argv: string[]) => execa("ip", ["netns", "exec", ns, ...argv], { reject: false, timeout: 20_000 });

/** Connects to 127.0.0.1:`port` (as root), sends a line, prints what comes back; exits 3 on a timeout. */
const CLIENT = [
  "import socket, sys",
  "try:",
  "    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)",
  "    s.sendall(b'ping\\n'); print(s.recv(100).decode().strip())",
  "except socket.timeout:",
  "    sys.exit(3)",
].join("\n");

const ECHO = [
  "import socket, sys, threading",
  "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(16)",
  "print('listening', flush=True)",
  "def serve(c):",
  "    d = c.recv(100); c.sendall(b'echo ' + d); c.close()",
  "while True:",
  "    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()",
].join("\n");

const root = process.getuid?.() === 0;
if (!root) console.warn("skipping the network agent's kernel test: it needs root (a network namespace and iptables)");

describe.skipIf(!root)("the clients' cut and the relay, on this kernel", () => {
  const ns = `pgchaos-agent-test-${process.pid}`;
  const children: ResultPromise[] = [];
  const PG = 25432;
  const RELAY = 25433;

  const started = (child: ResultPromise, line: RegExp) =>
    new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => line.test(d.toString()) && resolve());
      void child.then((r) => reject(new Error(`exited early: ${r.stderr}`)));
    });

  beforeAll(async () => {
    const add = await execa("ip", ["netns", "add", ns], { reject: false });
    if (add.exitCode !== 0) throw new Error(`ip netns add: ${add.stderr}`);
    await inNs(ns, ["ip", "link", "set", "lo", "up"]);
    const echo = execa("ip", ["netns", "exec", ns, "python3", "-u", "-c", ECHO, String(PG)], { reject: false });
    const relay = execa("ip", ["netns", "exec", ns, "python3", "-u", "-c", relayScript(PG, RELAY)], { reject: false });
    children.push(echo, relay);
    await Promise.all([started(echo, /listening/), started(relay, /relay on 127\.0\.0\.1:25433 as uid 65534/)]);
  }, 30_000);

  afterAll(async () => {
    for (const c of children) c.kill("SIGKILL");
    await Promise.allSettled(children);
    await execa("ip", ["netns", "del", ns], { reject: false });
  });

  it("drops root's connections to the database port on loopback, and lets the relay's (nobody) through, both directions", async () => {
    // Before the cut both ways answer.
    expect((await inNs(ns, ["python3", "-c", CLIENT, String(PG)])).stdout).toBe("echo ping");
    expect((await inNs(ns, ["python3", "-c", CLIENT, String(RELAY)])).stdout).toBe("echo ping");
    const rules = portForwardClientRules("pg-1", PG, "pgchaos-test");
    const r = await inNs(ns, iptablesRestoreArgv(rules.map((x) => x.args)));
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await inNs(ns, ["iptables", "-S", "OUTPUT"])).stdout).toContain("--uid-owner 0");
    // Root (as containerd's port-forward dial) times out; the relay still carries a client's bytes to the server.
    const cut = await inNs(ns, ["python3", "-c", CLIENT, String(PG)]);
    expect(cut.exitCode, cut.stdout + cut.stderr).toBe(3);
    expect((await inNs(ns, ["python3", "-c", CLIENT, String(RELAY)])).stdout).toBe("echo ping");
  }, 30_000);
});
