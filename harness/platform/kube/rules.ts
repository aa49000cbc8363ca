/**
 * Network faults on Kubernetes, as pure values: the same grudges as the local platform (faults/grudge.ts),
 * translated by the same grudgeRules (faults/rules.ts) into iptables rules, which here run inside a pod's
 * network namespace from its node's container:
 *
 *     docker exec <kind-node> nsenter -t <pid of the pod's sandbox> -n iptables -w ...
 *
 * the way Chaos Mesh's chaos-daemon enters a pod's namespace from the node. The rules live and die with the
 * pod's sandbox: nothing is ever added to a node's own namespace, and a pod deleted by a fault takes its rules
 * with it.
 *
 * What differs from the local platform is the DCS. Locally every node runs an etcd member, so a node cut from
 * a majority of nodes loses the DCS by itself. On Kubernetes the DCS is the API server, which no grudge between
 * pods touches; kubePartitionRules therefore also cuts the API server from every pod that the grudge leaves
 * without a two-way path to a majority of members, which is what that pod's etcd member would have suffered.
 */
import { CLIENTS, type Grudge } from "../../faults/grudge.ts";
import { grudgeRules, type NodeCommand } from "../../faults/rules.ts";
import type { V1NetworkPolicy } from "@kubernetes/client-node";
import { portForwardClientRules } from "./net-agent.ts";

/** How a pod reaches the API server: the `kubernetes` Service, and the endpoints behind it. */
export interface ApiServerAddress {
  /** ClusterIP of `default/kubernetes` (10.96.0.1 on kind), what KUBERNETES_SERVICE_HOST holds. */
  serviceIp: string;
  /** Its port, 443. */
  servicePort: number;
  /** The API server endpoints (kind: the control plane's node address, port 6443). */
  endpoints: Array<{ ip: string; port: number }>;
}

export function checkIPv4(what: string, a: unknown): string {
  const m = typeof a === "string" ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a) : null;
  if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new Error(`${what}: expected an IPv4 address, got ${JSON.stringify(a)}`);
  return a as string;
}

function checkPort(what: string, p: unknown): number {
  if (!Number.isInteger(p) || (p as number) < 1 || (p as number) > 65535) throw new Error(`${what}: expected a TCP port, got ${JSON.stringify(p)}`);
  return p as number;
}

const comment = (tag: string) => ["-m", "comment", "--comment", tag];

/** The same constraint as faults/rules.ts: iptables keeps at most 256 bytes, and the tag is matched as one word. */
function checkTag(tag: string): void {
  if (tag === "" || Buffer.byteLength(tag) > 256 || /[\s"'\\]/.test(tag)) {
    throw new Error(`bad rule tag ${JSON.stringify(tag)}: it must be 1 to 256 bytes with no whitespace, quotes or backslashes`);
  }
}

/**
 * Cuts `node`'s pod from the API server (its DCS): OUTPUT drops of TCP to the `kubernetes` Service address and
 * to every API server endpoint (in case a client bypasses the Service). Inside the pod's namespace packets
 * still carry the Service address (kube-proxy translates it on the node), so the first rule is the one that
 * bites; dropping the pod's own outgoing packets also stalls connections already open, and Patroni's watch
 * and its lock updates time out after retry_timeout. Nothing else changes: replication and Patroni's REST API
 * between members, and the clients, are untouched.
 */
export function apiServerCutRules(node: string, api: ApiServerAddress, tag: string): NodeCommand[] {
  checkTag(tag);
  const out: NodeCommand[] = [
    { node, args: ["-A", "OUTPUT", "-d", checkIPv4("API service address", api.serviceIp), "-p", "tcp", "--dport", String(checkPort("API service port", api.servicePort)), ...comment(tag), "-j", "DROP"] },
  ];
  for (const e of api.endpoints) {
    const args = ["-A", "OUTPUT", "-d", checkIPv4("API endpoint", e.ip), "-p", "tcp", "--dport", String(checkPort("API endpoint port", e.port)), ...comment(tag), "-j", "DROP"];
    if (!out.some((r) => r.args.join(" ") === args.join(" "))) out.push({ node, args });
  }
  return out;
}

/** Two members can hold a TCP connection when neither drops the other's packets. */
function connected(g: Grudge, a: string, b: string): boolean {
  return !(g[a]?.includes(b) || g[b]?.includes(a));
}

/**
 * Members the grudge leaves without a two-way path to a majority of `all` (themselves included): those whose
 * etcd member would have lost quorum on the local platform. In the order of `all`.
 */
export function losesDcs(g: Grudge, all: readonly string[]): string[] {
  const majority = Math.floor(all.length / 2) + 1;
  return all.filter((n) => all.filter((m) => m === n || connected(g, n, m)).length < majority);
}

export interface KubePartitionInput {
  grudge: Grudge;
  all: readonly string[];
  /** Pod IP of a member, now (pods get a new address when they are recreated). */
  addressOf: (node: string) => string;
  /**
   * Where the harness's connections come from: the node address kube-proxy masquerades NodePort traffic to (kind,
   * minikube), or the port-forward's dials on the pod's loopback to PostgreSQL's port (`--platform kube`: cut by
   * net-agent.ts portForwardClientRules).
   */
  clients: { address: string } | { portForward: { pgPort: number } };
  api: ApiServerAddress;
  tag: string;
}

/** The grudge's rules between pods and towards the clients, plus API server cuts for the members that lose the DCS. */
export function kubePartitionRules(p: KubePartitionInput): NodeCommand[] {
  let rules: NodeCommand[];
  if ("address" in p.clients) {
    rules = grudgeRules(p.grudge, p.addressOf, p.clients.address, p.tag);
  } else {
    // The peers' rules as everywhere; the clients' cut is on the pod's loopback, where the port-forward enters.
    const peers: Grudge = Object.fromEntries(Object.entries(p.grudge).map(([n, drops]) => [n, drops.filter((d) => d !== CLIENTS)]));
    rules = grudgeRules(peers, p.addressOf, "127.0.0.1", p.tag);
    for (const [n, drops] of Object.entries(p.grudge)) if (drops.includes(CLIENTS)) rules.push(...portForwardClientRules(n, p.clients.portForward.pgPort, p.tag));
  }
  for (const n of losesDcs(p.grudge, p.all)) rules.push(...apiServerCutRules(n, p.api, p.tag));
  return rules;
}

/** The kube form of a DCS-only cut ("dcs-isolate"): the pods lose the API server and nothing else. */
export function kubeDcsCutRules(nodes: readonly string[], api: ApiServerAddress, tag: string): NodeCommand[] {
  return nodes.flatMap((n) => apiServerCutRules(n, api, tag));
}

/** Where a pod's network namespace is, from its sandbox, as `crictl inspectp` (containerd) reports it. */
export interface Sandbox {
  id: string;
  /** PID of the sandbox's pause process, in the node container's PID namespace. */
  pid: number;
  /** Path of the network namespace inside the node container (/var/run/netns/cni-...). */
  netnsPath?: string;
}

/** `crictl pods` arguments that print the id of the pod's ready sandbox. */
export function crictlPodsArgs(pod: string, namespace: string): string[] {
  return ["crictl", "pods", "--name", `^${pod}$`, "--namespace", `^${namespace}$`, "--state", "ready", "--quiet"];
}

/** Parses `crictl inspectp <id>` (JSON): the pause process's PID and the network namespace's path. */
export function parseInspectp(json: string): Sandbox {
  let v: { status?: { id?: string }; info?: { pid?: unknown; runtimeSpec?: { linux?: { namespaces?: Array<{ type?: string; path?: string }> } } } };
  try {
    v = JSON.parse(json) as typeof v;
  } catch {
    throw new Error(`crictl inspectp printed no JSON: ${json.slice(0, 200)}`);
  }
  const pid = v.info?.pid;
  if (!Number.isInteger(pid) || (pid as number) <= 0) throw new Error(`crictl inspectp: no sandbox pid in ${json.slice(0, 200)}`);
  const netnsPath = v.info?.runtimeSpec?.linux?.namespaces?.find((n) => n.type === "network")?.path;
  return { id: v.status?.id ?? "", pid: pid as number, netnsPath: netnsPath || undefined };
}

/** A command inside a pod's network namespace, run from its node's container. */
export function nodeNsenterArgv(nodeContainer: string, pid: number, argv: readonly string[]): string[] {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(nodeContainer)) throw new Error(`bad node container name ${JSON.stringify(nodeContainer)}`);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`bad sandbox pid ${pid}`);
  if (argv.length === 0) throw new Error("nothing to run in the pod's network namespace");
  return ["docker", "exec", nodeContainer, "nsenter", "-t", String(pid), "-n", "--", ...argv];
}

/** `iptables -w ARGS` in the pod's network namespace. */
export function iptablesArgv(nodeContainer: string, pid: number, args: readonly string[]): string[] {
  return nodeNsenterArgv(nodeContainer, pid, ["iptables", "-w", ...args]);
}

/** Reads a symbolic link: its target, or undefined when `path` is not a link (or does not exist). */
export type Readlink = (path: string) => string | undefined;

/**
 * Where `path` of a container's filesystem is on the host, given the host's view of that filesystem's root
 * (`/proc/<pid>/root`). Every symbolic link on the way is followed inside that root: the kernel itself resolves
 * an absolute link met under /proc/<pid>/root against the caller's root, so in kindest/node and minikube's
 * images, where /var/run is a link to /run, `/proc/<pid>/root/var/run/netns/x` lands on the host's /run/netns/x.
 * `..` never climbs above the root, as inside the container.
 */
export function pathInRoot(root: string, path: string, readlink: Readlink): string {
  if (!path.startsWith("/")) throw new Error(`expected an absolute path in the container, got ${JSON.stringify(path)}`);
  let todo = path.split("/").filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const target = readlink(`${root}/${[...done, part].join("/")}`);
    if (target === undefined) {
      done.push(part);
      continue;
    }
    // Linux gives up after 40 links (ELOOP); a loop in a container's tree must not hang the harness.
    if (++links > 40) throw new Error(`too many symbolic links resolving ${path} under ${root}`);
    if (target.startsWith("/")) done.length = 0;
    todo = [...target.split("/").filter(Boolean), ...todo];
  }
  return `${root}/${done.join("/")}`;
}

/**
 * The host path of a pod's network namespace file, which containerd keeps inside the node container
 * (`/var/run/netns/cni-...`): under /proc/<node container's init pid>/root, with the node's own symbolic links
 * followed inside it (pathInRoot).
 */
export function netnsHostPath(nodeInitPid: number, netnsPath: string, readlink: Readlink): string {
  if (!Number.isInteger(nodeInitPid) || nodeInitPid <= 0) throw new Error(`bad node container pid ${nodeInitPid}`);
  if (!/^\/[\w./-]+$/.test(netnsPath) || netnsPath.split("/").includes("..")) throw new Error(`bad network namespace path ${JSON.stringify(netnsPath)}`);
  return pathInRoot(`/proc/${nodeInitPid}/root`, netnsPath, readlink);
}

/**
 * The host path of `node`'s network namespace, checked: what prepareNodeNetworks learns before any probe runs,
 * so that a path that does not resolve fails the deploy with the reason instead of every node probe later.
 * `exists` and `readlink` look at the host's filesystem (injected: pure otherwise).
 */
export function podNetnsOnHost(
  o: { node: string; nodeContainer: string; nodeInitPid: number; sandbox: Sandbox },
  fs: { readlink: Readlink; exists: (path: string) => boolean },
): string {
  const { node, nodeContainer, nodeInitPid, sandbox } = o;
  if (!sandbox.netnsPath) throw new Error(`crictl inspectp names no network namespace for the sandbox of ${node} on node ${nodeContainer}`);
  const root = `/proc/${nodeInitPid}/root`;
  if (!fs.exists(root)) {
    throw new Error(
      `the node container ${nodeContainer} has pid ${nodeInitPid}, which is not a process of this host (${root} does not exist): ` +
        "the Docker engine runs in another kernel or PID namespace (Docker Desktop, WSL2 integration, a remote DOCKER_HOST), where nothing on this host can enter pod networks; use Docker Engine on this Linux host",
    );
  }
  const hostPath = netnsHostPath(nodeInitPid, sandbox.netnsPath, fs.readlink);
  if (!fs.exists(hostPath)) {
    throw new Error(`the network namespace of ${node} (${sandbox.netnsPath} in node container ${nodeContainer}) is not at ${hostPath} on this host`);
  }
  return hostPath;
}

/**
 * A process of the harness's own (a node probe agent) started on the host inside a pod's network namespace.
 * With Docker on Linux a node container's filesystem, where containerd keeps the pod's namespace file, is
 * reachable from the host through /proc/<node container's init pid>/root (netnsHostPath). Needs root, as the
 * local platform.
 */
export function hostNsenterArgv(nodeInitPid: number, netnsPath: string, argv: readonly string[], readlink: Readlink): string[] {
  return ["nsenter", `--net=${netnsHostPath(nodeInitPid, netnsPath, readlink)}`, "--", ...argv];
}

/** `iptables -S` lines carrying `tag`, as `-D` argument vectors that delete them. */
export function taggedRuleDeletes(iptablesS: string, tag: string): string[][] {
  return iptablesS
    .split("\n")
    .filter((l) => l.startsWith("-A ") && l.split(/\s+/).includes(tag))
    .map((l) => ["-D", ...splitWords(l.slice(3))]);
}

/** Splits an `iptables -S` rule into words, honouring double quotes (iptables quotes comments with spaces). */
function splitWords(s: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!);
  return out;
}

/** One route as `ip -j route show` prints it. */
export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
}

/**
 * `ip` argument vectors that put a pod's routes back after its link was down: the kernel restores the
 * connected ("proto kernel") route of an address when the link comes up, but not the routes the CNI added
 * (the default route, a route to the gateway), which a link going down deletes. Link-scope routes first, so
 * that a gateway is reachable when the routes through it are added; `replace` makes it safe to run twice.
 */
export function routeRestoreCommands(routes: readonly IpRoute[]): string[][] {
  const restorable = routes.filter((r) => r.protocol !== "kernel" && r.dst);
  const order = (r: IpRoute) => (r.gateway ? 1 : 0);
  return [...restorable]
    .sort((a, b) => order(a) - order(b))
    .map((r) => [
      "route",
      "replace",
      r.dst,
      ...(r.gateway ? ["via", r.gateway] : []),
      ...(r.dev ? ["dev", r.dev] : []),
      ...(r.protocol ? ["proto", r.protocol] : []),
      ...(r.scope && r.scope !== "global" ? ["scope", r.scope] : []),
      ...(r.prefsrc ? ["src", r.prefsrc] : []),
      ...(r.metric !== undefined ? ["metric", String(r.metric)] : []),
    ]);
}

/**
 * A NetworkPolicy for an `isolate` grudge with clients (faults/grudge.ts isolate(node, all, {clients: true})):
 * the member's pod may neither receive nor send anything, the API server included, which is what the grudge
 * plus kubePartitionRules' API server cut mean. Undefined for any other grudge: a policy is an allow-list and
 * cannot say "everything but these peers" for pod addresses, nor cut one direction only.
 *
 * A policy is enough only for faults held long enough that established connections do not matter: CNIs apply
 * policies to new connections, and most let the ones already open (replication, Patroni's watch on the API
 * server) carry on, where the iptables rules cut them at once. The platform therefore applies iptables rules;
 * the policy is there for clusters where entering pod namespaces is not allowed.
 */
export function isolatePolicy(opts: {
  grudge: Grudge;
  all: readonly string[];
  namespace: string;
  podLabels: Record<string, string>;
  name: string;
}): V1NetworkPolicy | undefined {
  const { grudge: g, all } = opts;
  const keys = Object.keys(g);
  if (keys.length !== all.length) return undefined;
  const isolated = keys.find((n) => g[n]!.includes(CLIENTS));
  if (!isolated) return undefined;
  const others = all.filter((m) => m !== isolated);
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
  if (!same(g[isolated]!, [...others, CLIENTS])) return undefined;
  for (const k of others) if (!same(g[k] ?? [], [isolated])) return undefined;
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: opts.name, namespace: opts.namespace, labels: { "app.kubernetes.io/managed-by": "pgchaos" } },
    spec: {
      podSelector: { matchLabels: { ...opts.podLabels, "statefulset.kubernetes.io/pod-name": isolated } },
      // Both types and no rule: nothing in, nothing out.
      policyTypes: ["Ingress", "Egress"],
    },
  };
}
