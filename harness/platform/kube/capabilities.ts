import { ALL_PLATFORM_CAPABILITIES, type PlatformCapability } from "../../scenario/capabilities.ts";

/** Patroni on Kubernetes keeps its state in Kubernetes objects: there is no DCS member on a node to kill or pause. */
export const KUBE_CAPABILITIES: ReadonlySet<PlatformCapability> = new Set([...ALL_PLATFORM_CAPABILITIES].filter((c) => c !== "dcs-members" && c !== "backup"));

export const KUBE_WHY_NOT: Partial<Record<PlatformCapability, string>> = {
  backup: "backups and restores run on the local platform only, for now: its members share this machine's filesystem with the repository",
  "dcs-members": "Patroni there keeps its leader lock in Kubernetes objects (the API server is the DCS); cut a pod from the API server with the primary-dcs-isolate scenario instead",
};

/**
 * What each fault is on the Kubernetes platforms, where it differs from the local platform's: recorded with the
 * run's settings (scenario.json, the report), so that a verdict is read against the fault that was injected.
 * The checkers are the same on every platform; these say what they were looking at.
 */
export const KUBE_FAULT_SEMANTICS: Readonly<Record<string, string>> = {
  kill:
    "SIGKILL of every process in the member's pod (exec `kill -9 -1`: no shutdown, the leader key is not released), then deletion of the pod; " +
    "the StatefulSet's replacement is held (a scheduling gate) until heal, so the member is down for the hold as on the local platform",
  stop: "a drain of the member's node (below, without the switchover): the eviction's SIGTERM is Patroni's graceful shutdown; the replacement stays unscheduled until heal",
  drain: "cordon of the member's node and eviction of its pod through the Eviction API (PodDisruptionBudget respected), after a switchover away from it; the replacement stays unscheduled until heal",
  "node-failure":
    "docker kill of the Kubernetes node's container. Not silent: the kernel resets the dead processes' TCP connections over the node's veth. " +
    "Not seen quickly: the Node stays Ready for the node-monitor grace period (40 to 50 s); the dead pod keeps Patroni's leader label (role=primary, role=master under Patroni 3), and stays an endpoint " +
    "of the leader Service, until the cluster notices; kindnet keeps its route to the node. Heal waits for a kubelet heartbeat newer than the restart",
  partition:
    "iptables rules in the pods' network namespaces, entered from their nodes; a member cut from a majority is also cut from the API server (the DCS), as its etcd member would be locally. " +
    "The clients are cut at the address kube-proxy masquerades NodePort traffic to",
  "partition dcs-isolate": "the pod is cut from the API server (the `kubernetes` Service and its endpoints): Patroni's DCS on Kubernetes",
};

/** `--allow-node-faults`, as the CLI hands it to the platform (PGCHAOS_KUBE_ALLOW_NODE_FAULTS=1). */
export function allowNodeFaultsFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.PGCHAOS_KUBE_ALLOW_NODE_FAULTS === "1" || env.PGCHAOS_KUBE_ALLOW_NODE_FAULTS === "true";
}

/** What `--platform kube` is told by the user: whether node faults are allowed on this cluster. */
export interface ContextPlatformOptions {
  /** `--allow-node-faults`: the user says nodes of this cluster may be cordoned (drained). Never by default. */
  allowNodeFaults: boolean;
}

/**
 * What `--platform kube` (any cluster a kubeconfig context reaches) can do without assuming its nodes are
 * containers of this host: everything that goes through the Kubernetes API and an exec into our own pods.
 * Pod kill, Patroni-only and PostgreSQL-only kills and pauses are execs in the member's pod; a graceful stop is
 * the pod's eviction (its node is not cordoned); a drain cordons the node, only with --allow-node-faults.
 */
export function contextCapabilities(o: ContextPlatformOptions): ReadonlySet<PlatformCapability> {
  // Partitions and packet loss through the network agent the run adds to its own pods (net-agent.ts).
  const caps: PlatformCapability[] = ["kill", "graceful-stop", "pause", "process-kill", "partition", "packet-loss"];
  if (o.allowNodeFaults) caps.push("node-drain");
  return new Set(caps);
}

/** Why the faults on the pod's link are not offered where clients come by port-forward. */
const LINK_FAULT_BY_PORT_FORWARD =
  "it acts on the pod's link (eth0), and on a cluster reached by context the harness's clients do not come over that link: they come by " +
  "port-forward, which enters the pod on its loopback. The fault would slow or cut the members' replication and the API server but not the clients, " +
  "which is not the fault the other platforms measure. Partitions and packet loss do run here (through the network agent, net-agent.ts); " +
  "for this one use kind or minikube";

/** Why `--platform kube` lacks what it lacks, for the refusal before deploy. */
export function contextWhyNot(o: ContextPlatformOptions): Partial<Record<PlatformCapability, string>> {
  return {
    backup: KUBE_WHY_NOT.backup,
    "link-down": LINK_FAULT_BY_PORT_FORWARD,
    latency: LINK_FAULT_BY_PORT_FORWARD,
    "node-failure": o.allowNodeFaults
      ? "powering a node off needs its provider (a cloud API, or an agent on the node that stops its kubelet and container runtime); pgchaos has neither " +
        "for a cluster reached by context, --allow-node-faults or not. Run it on kind or minikube, whose nodes are containers of this host"
      : "it takes a whole Kubernetes node down, which other workloads may share: never without --allow-node-faults on a cluster reached by context, " +
        "and even with it pgchaos cannot power a node off there yet (that needs the node's provider or an agent on the node). Run it on kind or minikube",
    "node-drain":
      "a drain cordons the member's Kubernetes node, which other workloads share: pass --allow-node-faults to allow it on this cluster " +
      "(a graceful stop alone, the stop fault, evicts the member's pod without cordoning anything)",
    "dcs-members": "Patroni there keeps its leader lock in Kubernetes objects (the API server is the DCS), which has no member on a node to kill or pause",
  };
}

/** What each fault is on `--platform kube`, recorded with the run's settings as KUBE_FAULT_SEMANTICS is on kind. */
export function contextFaultSemantics(o: ContextPlatformOptions): Readonly<Record<string, string>> {
  return {
    kill: KUBE_FAULT_SEMANTICS.kill!,
    stop: o.allowNodeFaults
      ? KUBE_FAULT_SEMANTICS.stop!
      : "eviction of the member's pod through the Eviction API (PodDisruptionBudget respected; the eviction's SIGTERM is Patroni's graceful shutdown); " +
        "its node is not cordoned (other workloads share it); the replacement stays unscheduled until heal",
    ...(o.allowNodeFaults ? { drain: KUBE_FAULT_SEMANTICS.drain! } : {}),
    clients:
      "the harness reaches the primary by port-forward through the API server, to the pod the leader Service's EndpointSlices name at each new connection; " +
      "node probes reach each member's pod by port-forward, which enters the pod on its loopback (beside the database), through the network agent's relay where the run has one. " +
      "PostgreSQL sees every such connection come from 127.0.0.1, so a write is credited to the pod that answered through the primary's forward",
    partition:
      "iptables rules in the pods' network namespaces, run by the network agent: an ephemeral container (pgchaos-net, NET_ADMIN, the member's image) the run adds to each of its pods. " +
      "Peers are cut by pod address as on kind; a member cut from a majority is also cut from the API server (the DCS). " +
      "The clients are cut where the port-forward enters the pod: the container runtime's connections (uid 0) to PostgreSQL on the pod's loopback; node probes go through the agent's relay (uid nobody), which stays open",
    "partition dcs-isolate": KUBE_FAULT_SEMANTICS["partition dcs-isolate"]!,
    "packet-loss": "random drops of incoming packets in the pod's network namespace (iptables statistic), by the network agent: peers, the API server and the port-forwarded clients alike",
  };
}

/**
 * What an attached run (`--attach`: an operator's cluster, attach-cluster.ts) can do without changing anything of the
 * operator's: signals to the processes of a member's database container (an exec), and Patroni's REST API there.
 */
export const ATTACH_CAPABILITIES: ReadonlySet<PlatformCapability> = new Set<PlatformCapability>(["kill", "pause", "process-kill"]);

const ATTACH_CHANGES_NOTHING = "an attached run never deletes, evicts, patches or scales anything of the operator's";

/** Why an attached run lacks what it lacks, for the refusal before anything starts. */
export const ATTACH_WHY_NOT: Partial<Record<PlatformCapability, string>> = {
  "graceful-stop": `a graceful stop of a member is an eviction or a deletion of its pod, and ${ATTACH_CHANGES_NOTHING}. Deploy a cluster of pgchaos's own for it (--platform kube --context NAME)`,
  "node-drain": `a drain cordons a node and evicts a pod: ${ATTACH_CHANGES_NOTHING}, nor cordons a node`,
  "node-failure": "it powers a Kubernetes node off, which an attached run never does",
  partition:
    "it needs the network agent, an ephemeral container added to each member's pod, and an ephemeral container stays in the pod's spec until the pod is recreated: " +
    `${ATTACH_CHANGES_NOTHING}. Run it on a cluster of pgchaos's own (--platform kube --context NAME)`,
  "packet-loss": "it needs the network agent (an ephemeral container in each member's pod), which would stay in the operator's pods: an attached run adds none",
  "link-down": LINK_FAULT_BY_PORT_FORWARD,
  latency: LINK_FAULT_BY_PORT_FORWARD,
  "dcs-members": KUBE_WHY_NOT["dcs-members"],
  backup: "an attached run restores nothing into an operator's cluster",
};

/** What each fault is on an attached cluster of `operator`, recorded with the run's settings. */
export function attachFaultSemantics(operator: { title: string; container: string; init: string; tls?: boolean; patroni?: boolean }): Readonly<Record<string, string>> {
  const patroni = operator.patroni !== false;
  return {
    kill:
      `SIGKILL of every process of the member's database container (${operator.container}) that the kernel lets a process inside it signal: all but the container's PID 1, ` +
      `which for ${operator.title} is ${operator.init}. No shutdown${patroni ? ", and the leader key is not released" : ""}. ` +
      "The pod is not deleted: the kubelet restarts the container, at once the first time and after a back-off (10 s, doubling to 5 min) when it died before (reports/FINDINGS.md, finding 15). " +
      (patroni
        ? "An attached run cannot hold the member down for the scenario's hold, so the heal only waits for its Patroni to answer again"
        : "An attached run cannot hold the member down for the scenario's hold, so the heal only waits for the pod to be Ready and its PostgreSQL to answer again"),
    pause: patroni
      ? `SIGSTOP of Patroni and PostgreSQL (by process name) in the member's database container, SIGCONT at heal`
      : "SIGSTOP of PostgreSQL (by process name) in the member's database container, SIGCONT at heal. The instance manager, the container's PID 1, cannot be stopped from inside it: it keeps answering the operator and the kubelet's probes about a PostgreSQL that does not answer",
    ...(patroni
      ? {
          "patroni-kill":
            "SIGKILL of Patroni (by process name). Where Patroni is the container's main process or its init's only child (PGO; Spilo images whose launch script execs Patroni) " +
            "the container ends with it and the kubelet restarts it, as for kill; where a supervisor runs Patroni (runit), it restarts Patroni alone and PostgreSQL keeps running",
        }
      : {}),
    "postgres-kill": patroni
      ? "SIGKILL of the postmaster and every backend (by process name); Patroni restarts PostgreSQL"
      : `SIGKILL of the postmaster and every backend (by process name); ${operator.init}`,
    clients:
      "the harness reaches the primary by port-forward through the API server, to the pod the operator's primary Service routes to at each new connection " +
      `(its selector, or the Endpoints ${patroni ? "Patroni writes" : "of its selector"}); node probes reach each member's pod by port-forward, which enters the pod on its loopback. ` +
      "Writes go into a schema of the run's own, dropped at the end" +
      (operator.tls ? ". PostgreSQL takes TLS only: every connection is TLS, the server's certificate not verified (the tunnel is the API server's authenticated connection, and no certificate names 127.0.0.1)" : ""),
  };
}

/**
 * `--platform kube`'s capabilities and reasons as the CLI's flags set them (PGCHAOS_KUBE_ATTACH for --attach,
 * PGCHAOS_KUBE_ALLOW_NODE_FAULTS): read at each look, since the CLI sets them before the run.
 */
export function contextCapabilitiesFromEnv(env: NodeJS.ProcessEnv = process.env): { capabilities: ReadonlySet<PlatformCapability>; whyNot: Partial<Record<PlatformCapability, string>> } {
  if (env.PGCHAOS_KUBE_ATTACH) return { capabilities: ATTACH_CAPABILITIES, whyNot: ATTACH_WHY_NOT };
  const o = { allowNodeFaults: allowNodeFaultsFromEnv(env) };
  return { capabilities: contextCapabilities(o), whyNot: contextWhyNot(o) };
}
