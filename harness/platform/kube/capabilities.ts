import { ALL_PLATFORM_CAPABILITIES, type PlatformCapability } from "../../scenario/capabilities.ts";

/** Patroni on Kubernetes keeps its state in Kubernetes objects: there is no DCS member on a node to kill or pause. */
export const KUBE_CAPABILITIES: ReadonlySet<PlatformCapability> = new Set([...ALL_PLATFORM_CAPABILITIES].filter((c) => c !== "dcs-members"));

export const KUBE_WHY_NOT: Partial<Record<PlatformCapability, string>> = {
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
    "Not seen quickly: the Node stays Ready for the node-monitor grace period (40 to 50 s); the dead pod keeps Patroni's role=primary label, and stays an endpoint " +
    "of the leader Service, until the cluster notices; kindnet keeps its route to the node. Heal waits for a kubelet heartbeat newer than the restart",
  partition:
    "iptables rules in the pods' network namespaces, entered from their nodes; a member cut from a majority is also cut from the API server (the DCS), as its etcd member would be locally. " +
    "The clients are cut at the address kube-proxy masquerades NodePort traffic to",
  "partition dcs-isolate": "the pod is cut from the API server (the `kubernetes` Service and its endpoints): Patroni's DCS on Kubernetes",
};
