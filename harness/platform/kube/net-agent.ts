/**
 * The in-cluster agent of `--platform kube` for the network faults: an ephemeral container, `pgchaos-net`, that the
 * run adds to each of its own member pods (as xk6-disruptor injects its agent), with NET_ADMIN and the member's
 * image (which carries iptables, ip and Python). It shares the pod's network namespace, so the iptables rules the
 * kind platform runs there from the node's container (rules.ts) run here by exec into it, and die with the pod.
 *
 * Clients on a cluster reached by context come through the API server's port-forward, which the container runtime
 * (containerd, CRI-O: root on the node) dials from inside the pod's network namespace to 127.0.0.1:5432. A partition
 * cuts "the clients" there: OUTPUT on loopback to PostgreSQL's port from uid 0 (portForwardClientRules). Node probes,
 * which must keep seeing a member that the clients lost (the split-brain checker), reach it through the agent's relay
 * instead: a port on the pod's loopback whose connections the relay carries to PostgreSQL as an unprivileged user
 * the rule does not match, as the local platform's node probes connect beside the database.
 *
 * Pure: the cluster code (cluster.ts) adds the container and runs the commands.
 */
import type { V1EphemeralContainer, V1Pod } from "@kubernetes/client-node";
import type { NodeCommand } from "../../faults/rules.ts";

export const NET_AGENT = "pgchaos-net";
/** The relay's port on the pod's loopback, which node probes reach by port-forward. */
export const RELAY_PORT = 15432;
/** The relay runs as nobody, which no rule of ours matches. */
const RELAY_UID = 65534;

/**
 * The relay: listens on 127.0.0.1:RELAY_PORT as root, then drops to RELAY_UID, and carries each connection to
 * 127.0.0.1:<pgPort> both ways (a thread per direction); a connection PostgreSQL refuses is closed at once.
 */
export function relayScript(pgPort: number, relayPort = RELAY_PORT): string {
  return [
    // What the relay will need, loaded before it drops to an unprivileged user who may not read Python's library.
    "import os, socket, threading, encodings.idna",
    "s = socket.socket()",
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
    `s.bind(("127.0.0.1", ${relayPort}))`,
    "s.listen(128)",
    `os.setgroups([]); os.setgid(${RELAY_UID}); os.setuid(${RELAY_UID})`,
    `print("pgchaos-net: relay on 127.0.0.1:%d as uid %d" % (${relayPort}, os.getuid()), flush=True)`,
    "def pipe(a, b):",
    "    try:",
    "        while True:",
    "            d = a.recv(65536)",
    "            if not d: break",
    "            b.sendall(d)",
    "    except OSError: pass",
    "    for x in (a, b):",
    "        try: x.shutdown(socket.SHUT_RDWR)",
    "        except OSError: pass",
    "def serve(c):",
    "    try:",
    `        u = socket.create_connection(("127.0.0.1", ${pgPort}), timeout=5)`,
    "    except OSError:",
    "        c.close(); return",
    "    u.settimeout(None)",
    "    t = threading.Thread(target=pipe, args=(c, u), daemon=True); t.start()",
    "    pipe(u, c); t.join(); c.close(); u.close()",
    "while True:",
    "    try:",
    "        c, _ = s.accept()",
    "        threading.Thread(target=serve, args=(c,), daemon=True).start()",
    "    except (OSError, RuntimeError) as e:",
    "        print('pgchaos-net: %s' % e, flush=True)",
  ].join("\n");
}

/** The ephemeral container: the member's image, root with NET_ADMIN (iptables), running the relay. */
export function netAgentContainer(image: string, pgPort: number): V1EphemeralContainer {
  if (!Number.isInteger(pgPort) || pgPort < 1 || pgPort > 65535 || pgPort === RELAY_PORT) throw new Error(`bad PostgreSQL port ${pgPort}`);
  return {
    name: NET_AGENT,
    image,
    imagePullPolicy: "IfNotPresent",
    command: ["python3", "-u", "-c", relayScript(pgPort)],
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW", "SETUID", "SETGID"] },
    },
  };
}

export type AgentState = { state: "absent" } | { state: "waiting"; why: string } | { state: "running" } | { state: "terminated"; why: string };

/** Where the agent of `pod` is: not added, starting (or failing to: the kubelet's reason), running, or ended. */
export function agentState(pod: V1Pod): AgentState {
  if (!(pod.spec?.ephemeralContainers ?? []).some((c) => c.name === NET_AGENT)) return { state: "absent" };
  const s = (pod.status?.ephemeralContainerStatuses ?? []).find((c) => c.name === NET_AGENT)?.state;
  if (s?.running) return { state: "running" };
  if (s?.terminated) return { state: "terminated", why: `exit ${s.terminated.exitCode}${s.terminated.reason ? ` (${s.terminated.reason})` : ""}${s.terminated.message ? `: ${s.terminated.message}` : ""}` };
  return { state: "waiting", why: s?.waiting?.reason ? `${s.waiting.reason}${s.waiting.message ? `: ${s.waiting.message}` : ""}` : "no status yet" };
}

/** `pod` with the agent added to its ephemeral containers: the body of the ephemeralcontainers subresource's replace. */
export function withNetAgent(pod: V1Pod, image: string, pgPort: number): V1Pod {
  const existing = pod.spec?.ephemeralContainers ?? [];
  if (existing.some((c) => c.name === NET_AGENT)) return pod;
  return { ...pod, spec: { ...pod.spec!, ephemeralContainers: [...existing, netAgentContainer(image, pgPort)] } };
}

const comment = (tag: string) => ["-m", "comment", "--comment", tag];

/**
 * `node` cut from the clients that come by port-forward: the container runtime's dials (uid 0) to PostgreSQL on the
 * pod's loopback are dropped as they leave, so a new connection never completes and one already open stalls. Patroni
 * (uid 999) and the relay (nobody) are untouched; so are replication and Patroni's REST API, on the pod's address.
 */
export function portForwardClientRules(node: string, pgPort: number, tag: string): NodeCommand[] {
  return [{ node, args: ["-A", "OUTPUT", "-o", "lo", "-p", "tcp", "--dport", String(pgPort), "-m", "owner", "--uid-owner", "0", ...comment(tag), "-j", "DROP"] }];
}

/**
 * Why the namespace's Pod Security admission would refuse the agent (its `enforce` level, from the namespace's labels),
 * before anything is created; undefined when nothing says so. NET_ADMIN is beyond "baseline", so only "privileged"
 * (or no label, when the cluster's default admits it) lets it in.
 */
export function netAgentAdmissionProblem(namespace: string, labels: Record<string, string> | undefined): string | undefined {
  const level = labels?.["pod-security.kubernetes.io/enforce"];
  if (level === undefined || level === "privileged") return undefined;
  return (
    `namespace ${namespace} enforces Pod Security level "${level}" (label pod-security.kubernetes.io/enforce), which refuses the network agent that ` +
    `partitions and packet loss need on this platform (an ephemeral container with NET_ADMIN in the run's pods). Use a namespace at level "privileged", ` +
    "leave out --namespace so that the run creates its own, or run the scenario on kind or minikube"
  );
}
