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
 * Nothing here imports @kubernetes/client-node but the factory at the end: the listener is tested against a
 * stand-in forward that connects to local TCP servers.
 */
import { createServer, type Server, type Socket } from "node:net";
import { PassThrough, Writable, type Readable } from "node:stream";
import type { V1EndpointSlice } from "@kubernetes/client-node";

/** Carries `io` to `port` of `pod` and back; resolves once the tunnel is open, with a way to close it and its end. */
export type PodForward = (
  namespace: string,
  pod: string,
  port: number,
  io: { input: Readable; output: Writable },
) => Promise<{ close(): void; closed: Promise<void> }>;

export interface ForwarderOptions {
  /** For messages and logs: "the leader Service", "member pg-1". */
  what: string;
  namespace: string;
  port: number;
  /** The pod a new connection goes to, or why there is none (then the connection is closed at once). */
  target: () => Promise<{ pod: string } | { none: string }>;
  forward: PodForward;
  /** Told when a connection could not be carried (no target, the forward failed). */
  onRefused?: (why: string) => void;
}

/** A local listener whose connections are carried to a pod; see the module comment. */
export class LocalForwarder {
  private readonly live = new Set<{ socket: Socket; close?: () => void }>();
  private answered?: string;
  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly opts: ForwarderOptions,
  ) {}

  /** Opens the listener on 127.0.0.1 on a port the kernel picks. */
  static async open(opts: ForwarderOptions): Promise<LocalForwarder> {
    let self: LocalForwarder | undefined;
    const server = createServer({ pauseOnConnect: true }, (socket) => void self?.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const addr = server.address();
    if (addr === null || typeof addr === "string") throw new Error(`the local listener for ${opts.what} has no port`);
    self = new LocalForwarder(server, addr.port, opts);
    return self;
  }

  /** The pod whose answer last came back through this listener (undefined before any). */
  get lastAnswered(): string | undefined {
    return this.answered;
  }

  get connections(): number {
    return this.live.size;
  }

  private async accept(socket: Socket): Promise<void> {
    const entry: { socket: Socket; close?: () => void } = { socket };
    this.live.add(entry);
    socket.once("close", () => {
      this.live.delete(entry);
      entry.close?.();
    });
    socket.on("error", () => socket.destroy());
    let pod: string;
    try {
      const t = await this.opts.target();
      if ("none" in t) throw new Error(t.none);
      pod = t.pod;
    } catch (e) {
      this.refuse(socket, `no pod for ${this.opts.what}: ${(e as Error).message}`);
      return;
    }
    if (socket.destroyed) return;
    // What the pod sends goes to the client through this, which notes who answered.
    const output = new PassThrough();
    output.on("data", () => (this.answered = pod));
    output.pipe(socket);
    try {
      const tunnel = await this.opts.forward(this.opts.namespace, pod, this.opts.port, { input: socket, output });
      entry.close = () => tunnel.close();
      if (socket.destroyed) tunnel.close();
      void tunnel.closed.then(() => socket.destroy());
      socket.resume();
    } catch (e) {
      this.refuse(socket, `port-forward to ${pod} for ${this.opts.what} failed: ${(e as Error).message}`);
    }
  }

  private refuse(socket: Socket, why: string): void {
    this.opts.onRefused?.(why);
    socket.destroy();
  }

  /** Stops listening and closes every connection it carries. */
  async close(): Promise<void> {
    for (const e of this.live) {
      e.close?.();
      e.socket.destroy();
    }
    this.live.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

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

/** The API server's port-forward (pods/portforward over a WebSocket), as the cluster uses it. */
export async function apiPortForward(kc: import("@kubernetes/client-node").KubeConfig): Promise<PodForward> {
  const { PortForward } = await import("@kubernetes/client-node");
  const pf = new PortForward(kc, true);
  return async (namespace, pod, port, io) => {
    let ws: { close(): void } | undefined;
    // The kubelet's error stream (a dial refused inside the pod: nothing listens there) ends the connection, so
    // the client sees a closed connection, as it would from a refused one.
    const err = new Writable({
      write(_chunk: Buffer, _enc, cb) {
        ws?.close();
        cb();
      },
    });
    const opened = await pf.portForward(namespace, pod, [port], io.output, err, io.input);
    const socket = typeof opened === "function" ? opened() : opened;
    if (!socket) throw new Error(`no port-forward connection to ${namespace}/${pod}`);
    ws = socket;
    const closed = new Promise<void>((resolve) => {
      socket.on("close", () => resolve());
      socket.on("error", () => resolve());
    });
    return { close: () => socket.close(), closed };
  };
}
