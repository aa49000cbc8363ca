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

const partition = (grudge: ReturnType<typeof heal>) => kubePartitionRules({ grudge, all, addressOf: (n) => ips[n]!, clientsAddress: clients, api, tag });
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
    expect(() => kubePartitionRules({ grudge: isolate("pg-0", all, { clients: false }), all, addressOf: () => "", clientsAddress: clients, api, tag })).toThrow(/IPv4/);
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

  it("starts a host process in the pod's namespace through the node container's root", () => {
    expect(hostNsenterArgv(5150, "/var/run/netns/cni-1234", ["node", "agent.ts"])).toEqual([
      "nsenter", "--net=/proc/5150/root/var/run/netns/cni-1234", "--", "node", "agent.ts",
    ]);
    expect(() => hostNsenterArgv(5150, "/var/run/../../etc/passwd", ["x"])).toThrow(/bad network namespace path/);
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
