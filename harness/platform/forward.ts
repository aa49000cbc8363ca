/**
 * Local listeners on 127.0.0.1 whose connections are carried to a member the harness cannot route to, one tunnel per
 * connection, with the member chosen again at every connection: the Kubernetes API server's port-forward
 * (kube/forward.ts) on a cluster reached by context, `docker exec` on the docker platform where this machine has no
 * route to the containers (Docker Desktop, a user without root: docker/reach.ts).
 *
 * Through a tunnel that enters the member on its loopback, PostgreSQL sees the connection come from 127.0.0.1 and
 * `inet_server_addr()` answers 127.0.0.1 on every member; the listener therefore remembers which target last
 * answered through it (`lastAnswered`).
 */
import { createServer, type Server, type Socket } from "node:net";
import { PassThrough, type Readable, type Writable } from "node:stream";

/** Where the listeners listen. */
export const LOOPBACK = "127.0.0.1";

/** Whether PostgreSQL saw a connection come from loopback: the far end of a tunnel that enters the member on its loopback. */
export const isLoopback = (ip: string) => ip === "127.0.0.1" || ip === "::1" || ip === "::ffff:127.0.0.1";

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
  /** The pod a new connection goes to (at its `port`, `port` above unless given), or why there is none (then the connection is closed at once). */
  target: () => Promise<{ pod: string; port?: number } | { none: string }>;
  forward: PodForward;
  /** Told when a connection could not be carried (no target, the forward failed). */
  onRefused?: (why: string) => void;
  /**
   * Keep one tunnel open ahead of the next connection, to the pod the target names then. Only for forwards whose far
   * end connects when the first bytes arrive (docker's relay does) and whose targets are fixed: opening a tunnel is a
   * `docker exec`, 0.3 s on an idle machine and over a second on a loaded one, which a client's 1 s connect timeout
   * (the write probe's) does not survive; a tunnel opened ahead is used at once.
   */
  spare?: boolean;
}

interface SpareTunnel {
  pod: string;
  port: number;
  input: PassThrough;
  output: PassThrough;
  tunnel: { close(): void; closed: Promise<void> };
  dead: boolean;
}

/** A local listener whose connections are carried to a pod; see the module comment. */
export class LocalForwarder {
  private readonly live = new Set<{ socket: Socket; close?: () => void }>();
  private answered?: string;
  private spare?: Promise<SpareTunnel | undefined>;
  private closing = false;
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
      server.listen(0, LOOPBACK, () => resolve());
    });
    const addr = server.address();
    if (addr === null || typeof addr === "string") throw new Error(`the local listener for ${opts.what} has no port`);
    self = new LocalForwarder(server, addr.port, opts);
    self.openSpare();
    return self;
  }

  /** The pod whose answer last came back through this listener (undefined before any). */
  get lastAnswered(): string | undefined {
    return this.answered;
  }

  get connections(): number {
    return this.live.size;
  }

  /** Opens the tunnel the next connection will take (opts.spare). */
  private openSpare(): void {
    if (!this.opts.spare || this.closing || this.spare) return;
    this.spare = (async () => {
      const t = await this.opts.target();
      if ("none" in t) return undefined;
      const input = new PassThrough();
      const output = new PassThrough();
      const port = t.port ?? this.opts.port;
      const tunnel = await this.opts.forward(this.opts.namespace, t.pod, port, { input, output });
      const s: SpareTunnel = { pod: t.pod, port, input, output, tunnel, dead: false };
      void tunnel.closed.then(() => (s.dead = true));
      if (this.closing) tunnel.close();
      return s;
    })().catch(() => undefined);
  }

  /**
   * The spare tunnel when it leads to `pod` at `port` and still runs, with a new one opened in its place. One that died (its
   * container was killed or paused by a fault) is not replaced at once: the next connection opens one, so a member
   * that stays down costs one failed tunnel and a half per connection, not two.
   */
  private async takeSpare(pod: string, port: number): Promise<SpareTunnel | undefined> {
    // Claimed before any await: two connections at once never share one tunnel.
    const claimed = this.spare;
    this.spare = undefined;
    if (!claimed) {
      this.openSpare();
      return undefined;
    }
    const s = await claimed;
    if (s && !s.dead && s.pod === pod && s.port === port) {
      this.openSpare();
      return s;
    }
    s?.tunnel.close();
    return undefined;
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
    let port: number;
    try {
      const t = await this.opts.target();
      if ("none" in t) throw new Error(t.none);
      pod = t.pod;
      port = t.port ?? this.opts.port;
    } catch (e) {
      this.refuse(socket, `no pod for ${this.opts.what}: ${(e as Error).message}`);
      return;
    }
    if (socket.destroyed) return;
    // What the pod sends goes to the client through `output`, which notes who answered.
    let output: PassThrough;
    let tunnel: { close(): void; closed: Promise<void> };
    const spare = await this.takeSpare(pod, port);
    if (spare) {
      ({ output, tunnel } = spare);
      socket.pipe(spare.input);
    } else {
      output = new PassThrough();
      try {
        tunnel = await this.opts.forward(this.opts.namespace, pod, port, { input: socket, output });
      } catch (e) {
        this.refuse(socket, `port-forward to ${pod} for ${this.opts.what} failed: ${(e as Error).message}`);
        return;
      }
    }
    output.on("data", () => (this.answered = pod));
    output.pipe(socket);
    entry.close = () => tunnel.close();
    if (socket.destroyed) tunnel.close();
    void tunnel.closed.then(() => socket.destroy());
    socket.resume();
  }

  private refuse(socket: Socket, why: string): void {
    this.opts.onRefused?.(why);
    socket.destroy();
  }

  /** Closes every connection it carries now and keeps listening: their clients reconnect, to the target as it is now. */
  dropAll(): void {
    for (const e of this.live) {
      e.close?.();
      e.socket.destroy();
    }
  }

  /** Stops listening and closes every connection it carries. */
  async close(): Promise<void> {
    this.closing = true;
    void this.spare?.then((s) => s?.tunnel.close());
    for (const e of this.live) {
      e.close?.();
      e.socket.destroy();
    }
    this.live.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
