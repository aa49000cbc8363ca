import { describe, expect, it } from "vitest";
import { bridge, complete, CLIENTS, heal, isolate, majorityMinority, oneWayIn, oneWayOut } from "../../faults/grudge.ts";
import { validateObject } from "./openapi-validate.ts";
import {
  apiServerCutRules,
  crictlPodsArgs,
  hostNsenterArgv,
  iptablesArgv,
  isolatePolicy,
  kubeDcsCutRules,
  kubePartitionRules,
  losesDcs,
  nodeNsenterArgv,
  parseInspectp,
  pathInRoot,
  podNetnsOnHost,
  routeRestoreCommands,
  taggedRuleDeletes,
  type ApiServerAddress,
} from "./rules.ts";

const all = ["pg-0", "pg-1", "pg-2"];
const ips: Record<string, string> = { "pg-0": "10.244.1.5", "pg-1": "10.244.2.7", "pg-2": "10.244.3.9" };
const api: ApiServerAddress = { serviceIp: "10.96.0.1", servicePort: 443, endpoints: [{ ip: "172.18.0.2", port: 6443 }] };
const tag = "pgchaos-ab12cd";
const clients = "172.18.0.2";
const c = ["-m", "comment", "--comment", tag];

const partition = (grudge: ReturnType<typeof heal>) => kubePartitionRules({ grudge, all, addressOf: (n) => ips[n]!, clients: { address: clients }, api, tag });
const apiCut = (node: string) => [
  { node, args: ["-A", "OUTPUT", "-d", "10.96.0.1", "-p", "tcp", "--dport", "443", ...c, "-j", "DROP"] },
  { node, args: ["-A", "OUTPUT", "-d", "172.18.0.2", "-p", "tcp", "--dport", "6443", ...c, "-j", "DROP"] },
];

describe("which members lose the DCS (the API server) under a grudge", () => {
  it("is every member cut from a majority, as its etcd member would be on the local platform", () => {
    expect(losesDcs(isolate("pg-1", all, { clients: true }), all)).toEqual(["pg-1"]);
    expect(losesDcs(isolate("pg-1", all, { clients: false }), all)).toEqual(["pg-1"]);
    expect(losesDcs(majorityMinority(all, ["pg-2"], { clientsWith: "majority" }), all)).toEqual(["pg-2"]);
    // One way is enough to break TCP, so both one-way shapes leave the node alone.
    expect(losesDcs(oneWayIn("pg-0", all), all)).toEqual(["pg-0"]);
    expect(losesDcs(oneWayOut("pg-0", all), all)).toEqual(["pg-0"]);
    // The bridge keeps a majority path for everyone: pg-0 and pg-2 both still see pg-1.
    expect(losesDcs(bridge(all, "pg-1"), all)).toEqual([]);
    expect(losesDcs(heal(), all)).toEqual([]);
    // Cutting only the clients leaves the DCS alone.
    expect(losesDcs(complete([["pg-0", "pg-1", "pg-2"], [CLIENTS]]), all)).toEqual([]);
  });

  it("works for five members: a minority of two loses it, the majority of three keeps it", () => {
    const five = ["a", "b", "c", "d", "e"];
    expect(losesDcs(majorityMinority(five, ["a", "b"], { clientsWith: "both" }), five)).toEqual(["a", "b"]);
  });
});

describe("kube partition rules", () => {
  it("isolates a pod from its peers (by pod IP), from the clients both ways, and from the API server", () => {
    expect(partition(isolate("pg-0", all, { clients: true }))).toEqual([
      { node: "pg-0", args: ["-A", "INPUT", "-s", "10.244.2.7", ...c, "-j", "DROP"] },
      { node: "pg-0", args: ["-A", "INPUT", "-s", "10.244.3.9", ...c, "-j", "DROP"] },
      { node: "pg-0", args: ["-A", "INPUT", "-s", clients, ...c, "-j", "DROP"] },
      { node: "pg-0", args: ["-A", "OUTPUT", "-d", clients, ...c, "-j", "DROP"] },
      { node: "pg-1", args: ["-A", "INPUT", "-s", "10.244.1.5", ...c, "-j", "DROP"] },
      { node: "pg-2", args: ["-A", "INPUT", "-s", "10.244.1.5", ...c, "-j", "DROP"] },
      ...apiCut("pg-0"),
    ]);
  });

  it("adds no API server cut for a bridge, and nothing at all for the empty grudge", () => {
    const rules = partition(bridge(all, "pg-1"));
    expect(rules.every((r) => r.args[1] === "INPUT")).toBe(true);
    expect(rules.map((r) => r.node)).toEqual(["pg-0", "pg-2"]);
    expect(partition(heal())).toEqual([]);
  });

  it("cuts only the API server for a DCS isolation, to the Service address and each endpoint", () => {
    expect(kubeDcsCutRules(["pg-2"], api, tag)).toEqual(apiCut("pg-2"));
    // An endpoint listed twice gives one rule.
    expect(apiServerCutRules("pg-0", { ...api, endpoints: [...api.endpoints, ...api.endpoints] }, tag)).toHaveLength(2);
  });

  it("refuses addresses and ports that are not what they claim", () => {
    expect(() => apiServerCutRules("pg-0", { ...api, serviceIp: "kubernetes.default" }, tag)).toThrow(/IPv4/);
    expect(() => apiServerCutRules("pg-0", { ...api, servicePort: 0 }, tag)).toThrow(/TCP port/);
    expect(() => kubePartitionRules({ grudge: isolate("pg-0", all, { clients: false }), all, addressOf: () => "", clients: { address: clients }, api, tag })).toThrow(/IPv4/);
    expect(() => kubeDcsCutRules(["pg-0"], api, "bad tag")).toThrow(/bad rule tag/);
  });
});

describe("running rules inside a pod's network namespace", () => {
  it("enters the pod's namespace from its kind node container with nsenter", () => {
    expect(iptablesArgv("pgchaos-worker2", 4242, ["-A", "INPUT", "-s", "10.244.1.5", "-j", "DROP"])).toEqual([
      "docker", "exec", "pgchaos-worker2", "nsenter", "-t", "4242", "-n", "--", "iptables", "-w", "-A", "INPUT", "-s", "10.244.1.5", "-j", "DROP",
    ]);
    expect(nodeNsenterArgv("pgchaos-worker", 7, ["ip", "link", "set", "eth0", "down"]).slice(-5)).toEqual(["ip", "link", "set", "eth0", "down"]);
    expect(() => nodeNsenterArgv("worker; rm -rf /", 7, ["true"])).toThrow(/bad node container/);
    expect(() => nodeNsenterArgv("pgchaos-worker", 0, ["true"])).toThrow(/bad sandbox pid/);
    expect(() => nodeNsenterArgv("pgchaos-worker", 7, [])).toThrow(/nothing to run/);
  });

  it("finds the sandbox with crictl and parses its pid and network namespace", () => {
    expect(crictlPodsArgs("pg-0", "pgchaos-ab12cd")).toEqual(["crictl", "pods", "--name", "^pg-0$", "--namespace", "^pgchaos-ab12cd$", "--state", "ready", "--quiet"]);
    const inspect = JSON.stringify({
      status: { id: "f00d", state: "SANDBOX_READY" },
      info: { pid: 31337, runtimeSpec: { linux: { namespaces: [{ type: "pid" }, { type: "network", path: "/var/run/netns/cni-1234-abcd" }] } } },
    });
    expect(parseInspectp(inspect)).toEqual({ id: "f00d", pid: 31337, netnsPath: "/var/run/netns/cni-1234-abcd" });
    expect(() => parseInspectp("{}")).toThrow(/no sandbox pid/);
    expect(() => parseInspectp("FATA[0000] not found")).toThrow(/no JSON/);
  });

  // kindest/node and minikube's kicbase: /var/run is an absolute link to /run. The kernel resolves an absolute
  // link met under /proc/<pid>/root against the caller's root, so the link must be followed inside the node.
  const nodeFs = (pid: number, links: Record<string, string> = { var: "/run" }) => {
    const root = `/proc/${pid}/root`;
    const readlink = (p: string) => (p.startsWith(`${root}/`) ? links[p.slice(root.length + 1)] : undefined);
    return { root, readlink };
  };

  it("starts a host process in the pod's namespace, following the node's /var/run -> /run inside the node's root", () => {
    const { readlink } = nodeFs(5150, { "var/run": "/run" });
    expect(hostNsenterArgv(5150, "/var/run/netns/cni-1234", ["node", "agent.ts"], readlink)).toEqual([
      "nsenter", "--net=/proc/5150/root/run/netns/cni-1234", "--", "node", "agent.ts",
    ]);
    expect(() => hostNsenterArgv(5150, "/var/run/../../etc/passwd", ["x"], readlink)).toThrow(/bad network namespace path/);
    expect(() => hostNsenterArgv(0, "/var/run/netns/cni-1234", ["x"], readlink)).toThrow(/bad node container pid/);
  });

  it("follows relative links, chains of links and `..` without leaving the node's root", () => {
    const root = "/proc/7/root";
    const links: Record<string, string> = { "var/run": "../run", "run/netns": "/state/ns", "state/ns/cni-9": "cni-9.real", "a/loop": "/a/loop" };
    const readlink = (p: string) => links[p.slice(root.length + 1)];
    expect(pathInRoot(root, "/var/run/netns/cni-9", readlink)).toBe("/proc/7/root/state/ns/cni-9.real");
    expect(pathInRoot(root, "/run/netns/x", readlink)).toBe("/proc/7/root/state/ns/x");
    expect(pathInRoot(root, "/var/run", () => undefined)).toBe("/proc/7/root/var/run");
    expect(pathInRoot(root, "/x", (p) => (p === `${root}/x` ? "../../../../etc" : undefined))).toBe("/proc/7/root/etc");
    expect(() => pathInRoot(root, "/a/loop", readlink)).toThrow(/too many symbolic links/);
  });

  it("checks the namespace file before any probe runs, and says why when it is not there", () => {
    const sandbox = { id: "f00d", pid: 31337, netnsPath: "/var/run/netns/cni-1234" };
    const { readlink } = nodeFs(5150, { "var/run": "/run" });
    const o = { node: "pg-1", nodeContainer: "pgchaos-worker2", nodeInitPid: 5150, sandbox };
    const present = new Set(["/proc/5150/root", "/proc/5150/root/run/netns/cni-1234"]);
    expect(podNetnsOnHost(o, { readlink, exists: (p) => present.has(p) })).toBe("/proc/5150/root/run/netns/cni-1234");
    // What the old path gave: the host's /var/run/netns, where the file is not.
    expect(() => podNetnsOnHost(o, { readlink: () => undefined, exists: (p) => present.has(p) })).toThrow(
      "the network namespace of pg-1 (/var/run/netns/cni-1234 in node container pgchaos-worker2) is not at /proc/5150/root/var/run/netns/cni-1234 on this host",
    );
    // Docker Desktop: the pid docker reports is one of its VM's.
    expect(() => podNetnsOnHost(o, { readlink, exists: () => false })).toThrow(/pid 5150, which is not a process of this host .*Docker Desktop/);
    expect(() => podNetnsOnHost({ ...o, sandbox: { ...sandbox, netnsPath: undefined } }, { readlink, exists: () => true })).toThrow(/names no network namespace/);
  });

  it("turns tagged `iptables -S` lines into deletions and leaves other rules alone", () => {
    const s = [
      "-P INPUT ACCEPT",
      `-A INPUT -s 10.244.2.7/32 -m comment --comment ${tag} -j DROP`,
      "-A INPUT -s 10.0.0.1/32 -m comment --comment \"someone else's rule\" -j DROP",
      `-A OUTPUT -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -m comment --comment ${tag} -j DROP`,
      `-A OUTPUT -d 10.96.0.1/32 -m comment --comment ${tag}-other -j DROP`,
    ].join("\n");
    expect(taggedRuleDeletes(s, tag)).toEqual([
      ["-D", "INPUT", "-s", "10.244.2.7/32", "-m", "comment", "--comment", tag, "-j", "DROP"],
      ["-D", "OUTPUT", "-d", "10.96.0.1/32", "-p", "tcp", "-m", "tcp", "--dport", "443", "-m", "comment", "--comment", tag, "-j", "DROP"],
    ]);
  });

  it("puts back the routes a link-down deleted, link routes before the routes through a gateway", () => {
    const routes = [
      { dst: "default", gateway: "10.244.1.1", dev: "eth0" },
      { dst: "10.244.1.0/24", dev: "eth0", protocol: "kernel", scope: "link", prefsrc: "10.244.1.5" },
      { dst: "10.244.1.1", dev: "eth0", scope: "link" },
    ];
    expect(routeRestoreCommands(routes)).toEqual([
      ["route", "replace", "10.244.1.1", "dev", "eth0", "scope", "link"],
      ["route", "replace", "default", "via", "10.244.1.1", "dev", "eth0"],
    ]);
  });
});

describe("NetworkPolicy for an isolation", () => {
  const podLabels = { application: "pgchaos", "cluster-name": "pg" };

  it("renders a deny-all policy for the isolated pod that validates against the OpenAPI schema", () => {
    const p = isolatePolicy({ grudge: isolate("pg-1", all, { clients: true }), all, namespace: "pgchaos-ab12cd", podLabels, name: "pgchaos-isolate-pg-1" });
    expect(p).toBeDefined();
    validateObject(p);
    expect(p!.spec!.podSelector!.matchLabels).toEqual({ ...podLabels, "statefulset.kubernetes.io/pod-name": "pg-1" });
    expect(p!.spec!.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(p!.spec!.ingress).toBeUndefined();
    expect(p!.spec!.egress).toBeUndefined();
  });

  it("declines grudges a policy cannot express", () => {
    const none = (g: ReturnType<typeof heal>) => isolatePolicy({ grudge: g, all, namespace: "ns", podLabels, name: "x" });
    expect(none(isolate("pg-1", all, { clients: false }))).toBeUndefined();
    expect(none(oneWayIn("pg-1", all))).toBeUndefined();
    expect(none(bridge(all, "pg-1"))).toBeUndefined();
    expect(none(majorityMinority(all, ["pg-0"], { clientsWith: "minority" }))).toBeUndefined();
    expect(none(heal())).toBeUndefined();
  });
});
