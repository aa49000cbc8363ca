import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { V1Node } from "@kubernetes/client-node";
import { KIND_CONFIG, kindClientsAddress, kindClusterDecision, kindCreateArgs, makeKindPlatform, parseKindClusters } from "./kind.ts";
import { makeMinikubePlatform, minikubeStartArgs, parseMinikubeProfiles } from "./minikube.ts";
import { internalIp, kubeEnvOptions, nodeProblems } from "./runtime-common.ts";
import { KUBE_PORTS } from "./manifests.ts";
import { DEFAULT_IMAGE } from "./image.ts";

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

  it("publishes the leader Service's NodePort and each member's on 127.0.0.1 only, from the control plane", () => {
    const maps = cfg.nodes[0]!.extraPortMappings!;
    const ports = [KUBE_PORTS.primary, ...Array.from({ length: KUBE_PORTS.members }, (_, i) => KUBE_PORTS.firstMember + i)];
    expect(maps.map((m) => m.containerPort)).toEqual(ports);
    for (const m of maps) expect(m).toEqual({ containerPort: m.containerPort, hostPort: m.containerPort, listenAddress: "127.0.0.1", protocol: "TCP" });
    expect(cfg.nodes.slice(1).every((n) => !n.extraPortMappings)).toBe(true);
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

  it("checks nodes: Ready, and one schedulable node per member (the tainted control plane does not count)", () => {
    expect(nodeProblems(kindNodes, 3)).toEqual([]);
    expect(nodeProblems(kindNodes, 4)).toEqual([expect.stringMatching(/^3 schedulable nodes for 4 members/)]);
    const broken = [...kindNodes.slice(0, 3), node("pgchaos-worker3", { ready: false, cordoned: true })];
    expect(nodeProblems(broken, 3)).toEqual([
      "node pgchaos-worker3 is not Ready (container runtime network not ready)",
      expect.stringMatching(/^2 schedulable nodes for 3 members/),
    ]);
  });
});

describe("minikube runtime decisions", () => {
  it("starts three Docker-driver nodes with containerd, Calico and the local-path provisioner", () => {
    const args = minikubeStartArgs("pgchaos", 3);
    expect(args.slice(0, 5)).toEqual(["start", "--profile", "pgchaos", "--nodes", "3"]);
    for (const [flag, value] of [["--driver", "docker"], ["--container-runtime", "containerd"], ["--cni", "calico"], ["--addons", "storage-provisioner-rancher"]]) {
      expect(args[args.indexOf(flag!) + 1]).toBe(value);
    }
    expect(minikubeStartArgs("p", 3, "v1.33.1").slice(-2)).toEqual(["--kubernetes-version", "v1.33.1"]);
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
    expect(kubeEnvOptions({ PGCHAOS_KUBE_REUSE: "1", PGCHAOS_KUBE_IMAGE: DEFAULT_IMAGE })).toEqual({ reuse: true, image: DEFAULT_IMAGE });
    expect(() => kubeEnvOptions({ PGCHAOS_KUBE_IMAGE: "pgchaos/patroni:latest" })).toThrow(/not pinned/);
  });
});

describe("lazy registry entries", () => {
  it("are named like the platforms they load", async () => {
    const lazy = await import("./lazy.ts");
    expect(lazy.kindPlatform.name).toBe("kind");
    expect(lazy.minikubePlatform.name).toBe("minikube");
  });
});
