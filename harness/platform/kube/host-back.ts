/**
 * When a Kubernetes node whose container a node-failure fault killed is back, as a pure decision. Its Node
 * object stays Ready for the node-monitor grace period (40 s or more) after the kubelet died, and its pods keep
 * their last container state, so neither says that the node is back: only a kubelet heartbeat (the node's
 * Lease, renewed every 10 s by a live kubelet) newer than the restart, and a container of the member's pod
 * started after the restart, do.
 */

export interface HostBackInput {
  /** When the node container was started again (ms since the epoch; kind's and minikube's nodes share the host's clock). */
  since: number;
  /** The Kubernetes node. */
  node: string;
  /** spec.renewTime of the node's Lease in kube-node-lease; undefined when it has none. */
  leaseRenewTime?: Date | string;
  /** Status of the node's Ready condition. */
  ready?: string;
  /** The member's pod now; undefined while it does not exist. */
  pod?: { name: string; uid?: string; nodeName?: string; containerStartedAt?: Date | string };
  /** Uid of the member's pod when the node failed. */
  failedUid?: string;
}

function ms(t: Date | string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const v = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(v) ? v : undefined;
}

const iso = (t: number | undefined) => (t === undefined ? "never" : new Date(t).toISOString());

/** Why the node is not back yet, or undefined when it is. */
export function hostBackProblem(i: HostBackInput): string | undefined {
  const renewed = ms(i.leaseRenewTime);
  if (renewed === undefined || renewed < i.since) {
    return `no kubelet heartbeat from ${i.node} since its restart at ${iso(i.since)} (its Lease was last renewed ${iso(renewed)})`;
  }
  if (i.ready !== "True") return `node ${i.node} is not Ready yet (Ready=${i.ready ?? "absent"})`;
  // The same pod, still bound to this node, must run a container started after the restart: its status from
  // before the failure says "running" too. A replacement pod (another uid) is started by startNode.
  if (i.pod && i.pod.uid === i.failedUid && i.pod.nodeName === i.node) {
    const started = ms(i.pod.containerStartedAt);
    // startedAt has whole seconds.
    if (started === undefined || started < Math.floor(i.since / 1000) * 1000) {
      return `the container of pod ${i.pod.name} has not started again since the restart (it last started ${iso(started)})`;
    }
  }
  return undefined;
}
