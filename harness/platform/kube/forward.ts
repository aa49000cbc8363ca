/**
 * How the harness reaches PostgreSQL on a cluster whose nodes it cannot route to (`--platform kube`, any cluster a
 * kubeconfig context reaches): local listeners on 127.0.0.1, each connection carried to a pod through the API
 * server's port-forward (pods/portforward), as `kubectl port-forward` does, but with the pod chosen again at every
 * connection. The primary's listener asks which pod the leader Service routes to (its EndpointSlices) at each
 * connection, so it follows a failover as a Service does; each member's listener forwards to that member's pod.
 *
 * A port-forwarded connection enters the pod on its loopback (the kubelet dials localhost in the pod's network
 * namespace): PostgreSQL sees it come from 127.0.0.1 and `inet_server_addr()` answers 127.0.0.1 on every member.
 * The listener therefore remembers which pod last answered through it (`lastAnswered`), which is how the cluster
 * names the member that acknowledged a write (one client at a time uses the primary's listener during faults:
 * the write probe).
 *
 * The listener itself is ../forward.ts (LocalForwarder), shared with the docker platform; nothing here imports
 * @kubernetes/client-node but the factory at the end.
 */
import { Writable } from "node:stream";
import type { PodForward } from "../forward.ts";
import type { V1EndpointSlice } from "@kubernetes/client-node";

/**
 * The pod a Service routes a new connection to, from its EndpointSlices: a ready endpoint that names a Pod
 * (kube-proxy skips endpoints not ready and, while any is ready, terminating ones). With several (two pods
 * labelled primary, a split brain the Service itself shows), `pick` chooses, as kube-proxy spreads connections.
 */
export function podBehindService(
  service: string,
  slices: readonly Pick<V1EndpointSlice, "endpoints">[],
  pick: (pods: string[]) => string = (pods) => pods[0]!,
): { pod: string } | { none: string } {
  const endpoints = slices.flatMap((s) => s.endpoints ?? []);
  const pods = [
    ...new Set(
      endpoints
        .filter((e) => e.conditions?.ready !== false && e.conditions?.terminating !== true && e.targetRef?.kind === "Pod" && e.targetRef.name)
        .map((e) => e.targetRef!.name!),
    ),
  ].sort();
  if (pods.length === 0) {
    return { none: endpoints.length === 0 ? `Service ${service} has no endpoints (no pod carries its labels)` : `Service ${service} has no ready endpoint naming a pod` };
  }
  return { pod: pick(pods) };
}

/** Round robin over the pods it is given, as kube-proxy spreads connections over a Service's endpoints. */
export function roundRobin(): (pods: string[]) => string {
  let i = 0;
  return (pods) => pods[i++ % pods.length]!;
}

/**
 * The stream client-node writes the kubelet's error channel to: an error (a dial refused inside the pod: nothing
 * listens there) ends the connection, so the client sees a closed connection, as it would from a refused one. The
 * channel's first frame is only the port number, which client-node strips and writes as an empty chunk: that is no
 * error. Closing on it cut a connection whenever the frame came after the tunnel was open, about one in two on a kind
 * cluster ("Connection terminated unexpectedly" 20 ms after connecting), found on the first real cluster.
 */
export function errorChannel(close: () => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (chunk.length > 0) close();
      cb();
    },
  });
}

/** The API server's port-forward (pods/portforward over a WebSocket), as the cluster uses it. */
export async function apiPortForward(
  kc: import("@kubernetes/client-node").KubeConfig,
  /** client-node's WebSocket handler; a stand-in in tests. */
  handler?: ConstructorParameters<typeof import("@kubernetes/client-node").PortForward>[2],
): Promise<PodForward> {
  const { PortForward } = await import("@kubernetes/client-node");
  const pf = new PortForward(kc, true, handler);
  return async (namespace, pod, port, io) => {
    let ws: { close(): void } | undefined;
    // An error before the socket is ours (a refused dial reported at once) closes it as soon as it is.
    let failed = false;
    const err = errorChannel(() => {
      failed = true;
      ws?.close();
    });
    const opened = await pf.portForward(namespace, pod, [port], io.output, err, io.input);
    const socket = typeof opened === "function" ? opened() : opened;
    if (!socket) throw new Error(`no port-forward connection to ${namespace}/${pod}`);
    ws = socket;
    if (failed) socket.close();
    const closed = new Promise<void>((resolve) => {
      socket.on("close", () => resolve());
      socket.on("error", () => resolve());
    });
    return { close: () => socket.close(), closed };
  };
}
