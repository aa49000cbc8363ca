import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { V1Node } from "@kubernetes/client-node";
import pino from "pino";
import { KIND_CONFIG, KIND_CREATE_TIMEOUT_MS, kindClientsAddress, kindClusterDecision, kindCreateArgs, kindRuntime, makeKindPlatform, parseKindClusters } from "./kind.ts";
import type { Runner } from "./runtime-common.ts";
import { explainMinikubeStart, makeMinikubePlatform, minikubeClientsAddress, minikubeStartArgs, parseMinikubeProfiles } from "./minikube.ts";
import { internalIp, kubeEnvOptions, nodePortUnreachableMessage, nodeProblems, nodeProblemsMayPass, unreachableReason } from "./runtime-common.ts";
import { TEST_IMAGE } from "./test-stack.ts";

function node(name: string, opts: { controlPlane?: boolean; ready?: boolean; ip?: string; taint?: boolean; cordoned?: boolean; zone?: string } = {}): V1Node {
  return {
    metadata: { name, labels: { ...(opts.controlPlane ? { "node-role.kubernetes.io/control-plane": "" } : {}), ...(opts.zone ? { "topology.kubernetes.io/zone": opts.zone } : {}) } },
    spec: { unschedulable: opts.cordoned, taints: opts.taint ? [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] : [] },
    status: {
      conditions: [{ type: "Ready", status: opts.ready === false ? "False" : "True", message: opts.ready === false ? "container runtime network not ready" : undefined }],
      addresses: [{ type: "Hostname", address: name }, ...(opts.ip ? [{ type: "InternalIP", address: opts.ip }] : [])],
    },
  } as V1Node;
}

const kindNodes = [
  node("pgchaos-control-plane", { controlPlane: true, taint: true, ip: "172.18.0.2" }),
  node("pgchaos-worker", { ip: "172.18.0.3", zone: "zone-a" }),
  node("pgchaos-worker2", { ip: "172.18.0.4", zone: "zone-b" }),
  node("pgchaos-worker3", { ip: "172.18.0.5", zone: "zone-c" }),
];

describe("kind-config.yaml", () => {
  const cfg = parseYaml(readFileSync(KIND_CONFIG, "utf8")) as {
    kind: string;
    name: string;
    nodes: Array<{ role: string; labels?: Record<string, string>; extraPortMappings?: Array<{ containerPort: number; hostPort: number; listenAddress: string; protocol: string }> }>;
  };

  it("has one control plane and three workers, each worker in a zone of its own", () => {
    expect(cfg.kind).toBe("Cluster");
    expect(cfg.name).toBe("pgchaos");
    expect(cfg.nodes.map((n) => n.role)).toEqual(["control-plane", "worker", "worker", "worker"]);
    const zones = cfg.nodes.filter((n) => n.role === "worker").map((n) => n.labels?.["topology.kubernetes.io/zone"]);
    expect(new Set(zones).size).toBe(3);
    expect(zones.every(Boolean)).toBe(true);
  });

  it("publishes no port on the host: NodePorts are allocated per run and entered on the control plane's address", () => {
    // Fixed host ports 30432..30435 collided between runs, and a reused cluster without them made a run wait 300 s.
    expect(cfg.nodes.every((n) => !n.extraPortMappings)).toBe(true);
  });
});

describe("kind runtime decisions", () => {
  it("parses `kind get clusters` and decides to create, reuse or refuse", () => {
    expect(parseKindClusters("No kind clusters found.\n")).toEqual([]);
    expect(parseKindClusters("kind\npgchaos\n")).toEqual(["kind", "pgchaos"]);
    expect(kindClusterDecision([], "pgchaos", false)).toBe("create");
    expect(kindClusterDecision(["pgchaos"], "pgchaos", true)).toBe("reuse");
    const r = kindClusterDecision(["pgchaos"], "pgchaos", false);
    expect(typeof r === "object" && r.refuse).toMatch(/already exists: pass --reuse .* or delete it with `kind delete cluster --name pgchaos`/);
  });

  it("creates the cluster from the config and takes the control plane's address as the clients'", () => {
    expect(kindCreateArgs("pgchaos", "/repo/kind-config.yaml")).toEqual(["create", "cluster", "--name", "pgchaos", "--config", "/repo/kind-config.yaml", "--wait", "180s"]);
    expect(kindClientsAddress(kindNodes)).toBe("172.18.0.2");
    expect(internalIp(kindNodes, (n) => n.metadata?.name === "pgchaos-worker3")).toBe("172.18.0.5");
  });

  it("creates under an explicit timeout and deletes the half cluster a failed or timed-out create left", async () => {
    const calls: Array<{ args: string; timeoutMs?: number }> = [];
    const run: Runner = async (cmd, args, what, timeoutMs) => {
      calls.push({ args: `${cmd} ${args.join(" ")}`, timeoutMs });
      if (args[0] === "get") return "No kind clusters found.\n";
      if (args[0] === "create") throw new Error(`${what}: \`kind create cluster\` exited 143: timed out`);
      return "";
    };
    const ensure = kindRuntime({ run }).ensureCluster(pino({ level: "silent" }));
    await expect(ensure).rejects.toThrow(/timed out\n\(deleted what it left\)/);
    expect(calls.map((c) => c.args)).toEqual(["kind get clusters", `kind ${kindCreateArgs("pgchaos", KIND_CONFIG).join(" ")}`, "kind delete cluster --name pgchaos"]);
    // A first kindest/node pull can pass the old 600 s default.
    expect(calls[1]!.timeoutMs).toBe(KIND_CREATE_TIMEOUT_MS);
    expect(KIND_CREATE_TIMEOUT_MS).toBeGreaterThan(600_000);
  });

  it("checks nodes: Ready, and one schedulable node per member (the tainted control plane does not count)", () => {
    expect(nodeProblems(kindNodes, 3)).toEqual([]);
    expect(nodeProblems(kindNodes, 4)).toEqual([expect.stringMatching(/^3 schedulable nodes for 4 members/)]);
    const broken = [...kindNodes.slice(0, 3), node("pgchaos-worker3", { ready: false, cordoned: true })];
    expect(nodeProblems(broken, 3)).toEqual([
      "node pgchaos-worker3 is not Ready (container runtime network not ready)",
      expect.stringMatching(/^2 schedulable nodes for 3 members/),
    ]);
    // A node not Ready yet may come; with every node Ready, too few nodes stay too few (no use waiting).
    expect(nodeProblemsMayPass(broken)).toBe(true);
    expect(nodeProblemsMayPass(kindNodes)).toBe(false);
  });

  it("waits while Ready workers still carry the not-ready taint the node controller takes off, but not on a cordon", () => {
    // As a fresh kind cluster looked here: every node Ready, the workers tainted for a few seconds more.
    const fresh = kindNodes.map((n, i) => (i === 0 ? n : { ...n, spec: { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }] } }));
    expect(nodeProblems(fresh, 3)).toEqual([expect.stringMatching(/^0 schedulable nodes for 3 members/)]);
    expect(nodeProblemsMayPass(fresh)).toBe(true);
    const cordoned = kindNodes.map((n, i) => (i === 0 ? n : { ...n, spec: { unschedulable: true, taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] } }));
    expect(nodeProblemsMayPass(cordoned)).toBe(false);
  });

  it("creates from the node image of ours when the machine has it", () => {
    expect(kindCreateArgs("pgchaos", "/repo/kind-config.yaml", "pgchaos/kind-node:v1.34.4-abc")).toEqual(["create", "cluster", "--name", "pgchaos", "--config", "/repo/kind-config.yaml", "--image", "pgchaos/kind-node:v1.34.4-abc", "--wait", "180s"]);
  });
});

describe("reaching NodePorts from the host", () => {
  it("takes a refusal as an answer and a silence or a missing route as unreachable, and says what to check", () => {
    expect(unreachableReason(undefined)).toBeUndefined();
    expect(unreachableReason("ECONNREFUSED")).toBeUndefined();
    expect(unreachableReason("ETIMEDOUT")).toBe("no answer within the timeout");
    expect(unreachableReason("EHOSTUNREACH")).toBe("no route to host");
    expect(nodePortUnreachableMessage("the kind cluster's leader Service", "172.18.0.2", 31007, "no route to host")).toMatch(
      /^the kind cluster's leader Service \(NodePort 172\.18\.0\.2:31007\) cannot be reached from this host: no route to host\..*Docker Desktop/,
    );
  });
});

describe("minikube runtime decisions", () => {
  it("starts a Docker-driver node per member plus the control plane, with containerd, Calico and the local-path provisioner", () => {
    const args = minikubeStartArgs("pgchaos", 3);
    // minikube's control plane is schedulable; members stay off it, so three members need four nodes.
    expect(args.slice(0, 5)).toEqual(["start", "--profile", "pgchaos", "--nodes", "4"]);
    for (const [flag, value] of [["--driver", "docker"], ["--container-runtime", "containerd"], ["--cni", "calico"], ["--addons", "storage-provisioner-rancher"]]) {
      expect(args[args.indexOf(flag!) + 1]).toBe(value);
    }
    expect(minikubeStartArgs("p", 3, "v1.33.1").slice(-2)).toEqual(["--kubernetes-version", "v1.33.1"]);
  });

  it("passes --force as root, which the docker driver otherwise refuses (DRV_AS_ROOT), and says so when it is refused", () => {
    expect(minikubeStartArgs("pgchaos", 3, undefined, { asRoot: true })).toContain("--force");
    expect(minikubeStartArgs("pgchaos", 3, undefined, { asRoot: false })).not.toContain("--force");
    const out = 'X Exiting due to DRV_AS_ROOT: The "docker" driver should not be used with root privileges.';
    expect(explainMinikubeStart(out)).toMatch(/refused to run its docker driver as root \(DRV_AS_ROOT\).*`minikube start --force --driver docker/);
    expect(explainMinikubeStart("X Exiting due to RSRC_INSUFFICIENT_CORES")).toBeUndefined();
  });

  it("keeps members off its untainted control plane: three members need three other nodes", () => {
    // No taint on minikube's control plane: the old count took it as room for a member, and one landed there.
    const three = [node("pgchaos", { controlPlane: true }), node("pgchaos-m02"), node("pgchaos-m03")];
    expect(nodeProblems(three, 3)).toEqual([expect.stringMatching(/^2 schedulable nodes for 3 members/)]);
    expect(nodeProblems([...three, node("pgchaos-m04")], 3)).toEqual([]);
  });

  it("takes the control plane's Calico tunnel address as the clients', where NodePort traffic is masqueraded to", () => {
    const cp = node("pgchaos", { controlPlane: true, ip: "192.168.49.2" });
    const workers = [node("pgchaos-m02", { ip: "192.168.49.3" }), node("pgchaos-m03", { ip: "192.168.49.4" })];
    expect(minikubeClientsAddress([...workers, cp])).toBe("192.168.49.2");
    const tunnelled = { ...cp, metadata: { ...cp.metadata, annotations: { "projectcalico.org/IPv4Address": "192.168.49.2/24", "projectcalico.org/IPv4IPIPTunnelAddr": "10.244.120.64" } } };
    expect(minikubeClientsAddress([...workers, tunnelled])).toBe("10.244.120.64");
    const vxlan = { ...cp, metadata: { ...cp.metadata, annotations: { "projectcalico.org/IPv4VXLANTunnelAddr": "10.244.120.65" } } };
    expect(minikubeClientsAddress([vxlan])).toBe("10.244.120.65");
    expect(minikubeClientsAddress([])).toBeUndefined();
  });

  it("parses the profile list", () => {
    expect(parseMinikubeProfiles('{"invalid":[],"valid":[{"Name":"minikube"},{"Name":"pgchaos","Status":"Running"}]}')).toEqual(["minikube", "pgchaos"]);
    expect(parseMinikubeProfiles("")).toEqual([]);
  });
});

describe("platform objects and options", () => {
  it("are named and take their options from the environment", () => {
    expect(makeKindPlatform().name).toBe("kind");
    expect(makeMinikubePlatform().name).toBe("minikube");
    expect(kubeEnvOptions({})).toEqual({ reuse: false, image: undefined });
    expect(kubeEnvOptions({ PGCHAOS_KUBE_REUSE: "1", PGCHAOS_KUBE_IMAGE: TEST_IMAGE })).toEqual({ reuse: true, image: TEST_IMAGE });
    expect(() => kubeEnvOptions({ PGCHAOS_KUBE_IMAGE: "pgchaos/patroni:latest" })).toThrow(/not pinned/);
  });
});

describe("lazy registry entries", () => {
  it("are named like the platforms they load", async () => {
    const lazy = await import("./lazy.ts");
    expect(lazy.kindPlatform.name).toBe("kind");
    expect(lazy.minikubePlatform.name).toBe("minikube");
    expect(lazy.kubePlatform.name).toBe("kube");
  });
});
