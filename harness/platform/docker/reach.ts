/**
 * How the harness reaches the containers of a docker run.
 *
 * - **direct** (Linux, root, a Docker engine on this machine): the run's network is a bridge of this machine, so the
 *   harness connects to the members' addresses from the network's gateway, haproxy runs here on that gateway, and
 *   node probes enter a member's network with nsenter.
 * - **forward** (Docker Desktop on macOS and Windows, whose containers live in a VM; a user without root; any remote
 *   engine): nothing of this machine can route to the containers or enter their namespaces. A *clients* container
 *   on the run's network stands where the gateway stood: haproxy runs in it, and every connection the harness makes
 *   is carried by `docker exec -i` of a small relay in it, so it reaches the members from the clients container's
 *   address and a partition that cuts the clients cuts the harness too, as in direct mode. Node probes are carried
 *   by a relay in the member's own machine container to its own address: beside the database, as an application pod.
 *   Listeners are on 127.0.0.1 (../forward.ts), one per member and port, opened once the containers run.
 */
import { spawn } from "node:child_process";
import { execa } from "execa";
import type { Endpoint } from "../types.ts";
import { LocalForwarder, type PodForward } from "../forward.ts";
import { DOCKER } from "../image.ts";
import { UsageError } from "../../util/errors.ts";

export type ReachMode = "direct" | "forward";

/**
 * PGCHAOS_DOCKER_REACH when set; otherwise direct where it can work (Linux, root, an engine whose containers are
 * processes of this machine), forward elsewhere.
 */
export function reachMode(facts: { env?: string; linux: boolean; root: boolean; desktop: boolean; localEngine: boolean }): ReachMode {
  if (facts.env !== undefined && facts.env !== "") {
    if (facts.env !== "direct" && facts.env !== "forward") throw new UsageError(`PGCHAOS_DOCKER_REACH="${facts.env}": use direct (root on Linux) or forward (any machine)`);
    if (facts.env === "direct" && !(facts.linux && facts.root)) throw new UsageError("PGCHAOS_DOCKER_REACH=direct needs root on Linux (it enters the containers' networks): unset it to reach them through docker exec");
    return facts.env;
  }
  return facts.linux && facts.root && !facts.desktop && facts.localEngine ? "direct" : "forward";
}

/** What reachMode needs to know of this machine and the engine at `host`. */
export async function reachFacts(host: string): Promise<{ env?: string; linux: boolean; root: boolean; desktop: boolean; localEngine: boolean }> {
  const info = await execa(DOCKER, ["-H", host, "info", "--format", "{{.OperatingSystem}}"], { reject: false });
  return {
    env: process.env.PGCHAOS_DOCKER_REACH,
    linux: process.platform === "linux",
    root: process.getuid?.() === 0,
    desktop: /Docker Desktop/i.test(info.stdout),
    localEngine: host.startsWith("unix://"),
  };
}

/**
 * Carries stdin to address:port from inside the container it runs in, and what comes back to stdout. It connects when
 * the first bytes arrive (every protocol here has the client speak first), so a relay can be started ahead of its
 * connection (LocalForwarder's spare) and still meet the network as it is then: a partition made meanwhile applies.
 * It exits when the server closes, or 5 s after the client went away (stdin's end) if the server says nothing more: a member cut off by
 * a partition never answers, and the relay must not wait for TCP to give up. TCP_USER_TIMEOUT bounds unacknowledged
 * sends to 10 s likewise. Python 3 is in the member image (Patroni runs on it).
 */
export const RELAY = `import os, select, socket, sys, threading, time
first = os.read(0, 65536)
if not first:
    sys.exit(0)
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.settimeout(None)
s.sendall(first)
if hasattr(socket, "TCP_USER_TIMEOUT"):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 10000)
gone = []
def up():
    try:
        while True:
            d = os.read(0, 65536)
            if not d:
                break
            s.sendall(d)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    gone.append(time.monotonic())
threading.Thread(target=up, daemon=True).start()
try:
    while True:
        if not select.select([s], [], [], 1)[0]:
            if gone and time.monotonic() - gone[0] > 5:
                break
            continue
        d = s.recv(65536)
        if not d:
            break
        os.write(1, d)
except OSError:
    pass
`;

/** A tunnel per connection: `docker exec -i CONTAINER python3 -c RELAY ADDRESS PORT` (namespace = container, pod = address). */
export function execForward(host: string): PodForward {
  return async (container, address, port, io) => {
    const child = spawn(DOCKER, ["-H", host, "exec", "-i", container, "python3", "-c", RELAY, address, String(port)], { stdio: ["pipe", "pipe", "ignore"] });
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", reject);
    });
    child.stdin.on("error", () => undefined);
    io.input.pipe(child.stdin);
    child.stdout.pipe(io.output);
    return { close: () => child.kill("SIGKILL"), closed };
  };
}

/** The forward mode's listeners: to each member's ports from the clients container, and to each member from inside its own network. */
export class ForwardReach {
  private constructor(
    private readonly remote: Map<string, LocalForwarder>,
    private readonly local: Map<string, LocalForwarder>,
    readonly primary: LocalForwarder,
  ) {}

  static async open(
    host: string,
    clients: string,
    nodes: ReadonlyArray<{ name: string; machine: string; address: string }>,
    ports: readonly number[],
    primaryPort: number,
    onRefused: (why: string) => void,
  ): Promise<ForwardReach> {
    const forward = execForward(host);
    const listen = (what: string, container: string, address: string, port: number) =>
      LocalForwarder.open({ what, namespace: container, port, target: async () => ({ pod: address }), forward, onRefused, spare: true });
    const remote = new Map<string, LocalForwarder>();
    const local = new Map<string, LocalForwarder>();
    const opened: LocalForwarder[] = [];
    try {
      for (const n of nodes) {
        for (const p of ports) {
          const f = await listen(`${n.name}:${p}`, clients, n.address, p);
          opened.push(f);
          remote.set(`${n.name}:${p}`, f);
        }
        // To the node's own address from inside its network (PostgreSQL listens there only): it never leaves the node.
        const f = await listen(`beside ${n.name}`, n.machine, n.address, primaryPort);
        opened.push(f);
        local.set(n.name, f);
      }
      const primary = await listen("the primary service", clients, "127.0.0.1", primaryPort);
      return new ForwardReach(remote, local, primary);
    } catch (e) {
      await Promise.all(opened.map((f) => f.close()));
      throw e;
    }
  }

  /** Where the harness reaches `port` of `node`, as a client on the clients container's address. */
  endpoint(node: string, port: number): Endpoint {
    const f = this.remote.get(`${node}:${port}`);
    if (!f) throw new Error(`no listener for ${node}:${port}`);
    return { host: "127.0.0.1", port: f.port };
  }

  /** Where a probe beside `node`'s database reaches it (from inside its network). */
  beside(node: string): Endpoint {
    const f = this.local.get(node);
    if (!f) throw new Error(`no listener beside ${node}`);
    return { host: "127.0.0.1", port: f.port };
  }

  async close(): Promise<void> {
    await Promise.all([...this.remote.values(), ...this.local.values(), this.primary].map((f) => f.close()));
  }
}
