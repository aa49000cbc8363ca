/**
 * Network partitions as pure values (DESIGN.md, idea 2), after Jepsen's grudges
 * (jepsen/src/jepsen/nemesis.clj: complete-grudge, bridge, ...): computed and unit-tested without a
 * cluster, then translated to rules by rules.ts and applied by the platform.
 *
 * A grudge maps a node to the peers whose packets it DROPS on input. Only nodes that drop something
 * appear as keys, and every list is in the order of the node list it was built from, so two grudges
 * that mean the same thing compare equal with toEqual.
 *
 * Dropping on input is enough to cut TCP in both directions between two nodes: a connection either way
 * needs packets both ways. A one-way grudge therefore differs from a complete cut only for traffic that
 * needs no answer (UDP, ICMP) and for what each side sees: the dropping side times out, the other side
 * keeps sending into the void.
 */

/** The pseudo-peer for the root namespace: the primary service (haproxy), its health checks and the
 * harness. It never holds a grudge itself (we never touch the root namespace); a node whose grudge
 * names it is cut from the clients in both directions (rules.ts adds INPUT and OUTPUT rules). */
export const CLIENTS = "clients";

/** node → the peers (node names or CLIENTS) whose packets it drops on input. */
export type Grudge = Record<string, string[]>;

/** Adds `peers` to g[node], keeping first-seen order and no duplicates. */
function drop(g: Grudge, node: string, peers: readonly string[]): void {
  if (peers.length === 0) return;
  const list = (g[node] ??= []);
  for (const p of peers) if (!list.includes(p)) list.push(p);
}

function requireKnown(what: string, nodes: readonly string[], all: readonly string[]): void {
  const unknown = nodes.filter((n) => !all.includes(n));
  if (unknown.length > 0) throw new Error(`${what}: unknown node ${unknown.join(", ")} (nodes: ${all.join(", ") || "none"})`);
}

/**
 * Every node drops traffic from every node not in its own component. A component may contain CLIENTS:
 * the nodes of the other components are then cut from the clients; when no component holds CLIENTS the
 * clients reach everyone. Nodes in no component are untouched. A node in two components is an error.
 */
export function complete(components: readonly (readonly string[])[]): Grudge {
  const seen = new Map<string, number>();
  components.forEach((c, i) => {
    for (const n of c) {
      const j = seen.get(n);
      if (j !== undefined) throw new Error(`complete: ${n} is in component ${j + 1} and component ${i + 1}; components must not overlap`);
      seen.set(n, i);
    }
  });
  const g: Grudge = {};
  for (const c of components) {
    const outside = components.filter((other) => other !== c).flat();
    for (const n of c) if (n !== CLIENTS) drop(g, n, outside);
  }
  return g;
}

/**
 * `node` cut off from every other node, both ways. With `clients: true` it is also cut from the root
 * namespace: the primary service cannot reach it and its own Patroni REST / PostgreSQL cannot answer.
 */
export function isolate(node: string, all: readonly string[], opts: { clients: boolean }): Grudge {
  requireKnown("isolate", [node], all);
  const others = all.filter((n) => n !== node);
  return complete(opts.clients ? [[node], [...others, CLIENTS]] : [[node], others]);
}

/** `node` can send but not receive: it drops what every other node sends it. Clients are untouched. */
export function oneWayIn(node: string, all: readonly string[]): Grudge {
  requireKnown("oneWayIn", [node], all);
  const g: Grudge = {};
  drop(g, node, all.filter((n) => n !== node));
  return g;
}

/** `node` can receive but not send: every other node drops what it sends. Clients are untouched. */
export function oneWayOut(node: string, all: readonly string[]): Grudge {
  requireKnown("oneWayOut", [node], all);
  const g: Grudge = {};
  for (const n of all) if (n !== node) drop(g, n, [node]);
  return g;
}

/**
 * A strict minority cut from the rest. `clientsWith` says which side the root namespace (primary
 * service, probes) stays with; "both" leaves it connected to every node.
 */
export function majorityMinority(
  all: readonly string[],
  minority: readonly string[],
  opts: { clientsWith: "majority" | "minority" | "both" },
): Grudge {
  requireKnown("majorityMinority", minority, all);
  const min = all.filter((n) => minority.includes(n));
  const maj = all.filter((n) => !minority.includes(n));
  if (min.length === 0 || min.length * 2 >= all.length) {
    throw new Error(`majorityMinority: ${min.length} of ${all.length} nodes is not a strict minority (minority: ${min.join(", ") || "none"})`);
  }
  switch (opts.clientsWith) {
    case "majority":
      return complete([min, [...maj, CLIENTS]]);
    case "minority":
      return complete([[...min, CLIENTS], maj]);
    case "both":
      return complete([min, maj]);
  }
}

/**
 * Two halves that cannot see each other but both still see `middle` (Jepsen's bridge). The nodes other
 * than `middle`, in the order of `all`, are split into a first half of floor((n-1)/2) and the rest:
 * for n1, n2, n3 with middle n2, n1 and n3 are cut from each other; for five nodes with middle n3,
 * {n1, n2} and {n4, n5}. Clients see everyone.
 */
export function bridge(all: readonly string[], middle: string): Grudge {
  requireKnown("bridge", [middle], all);
  if (all.length < 3) throw new Error(`bridge: needs at least 3 nodes, got ${all.length}`);
  const rest = all.filter((n) => n !== middle);
  const k = Math.floor(rest.length / 2);
  const a = rest.slice(0, k);
  const b = rest.slice(k);
  const g: Grudge = {};
  for (const n of a) drop(g, n, b);
  for (const n of b) drop(g, n, a);
  return g;
}

/** The empty grudge: everyone hears everyone. A fresh object each call. */
export function heal(): Grudge {
  return {};
}

/** "n1 ⇸ n2, n3; n2 ⇸ n1": each node followed by the peers it drops packets from. */
export function describeGrudge(g: Grudge): string {
  const parts = Object.entries(g)
    .filter(([, peers]) => peers.length > 0)
    .map(([node, peers]) => `${node} ⇸ ${peers.join(", ")}`);
  return parts.length > 0 ? parts.join("; ") : "no grudge (fully connected)";
}

/**
 * Throws one error listing every problem: a key or peer that is not in `all`, CLIENTS as a key (the root
 * namespace cannot hold a grudge), a node dropping its own packets, a peer listed twice.
 */
export function validate(g: Grudge, all: readonly string[]): void {
  const problems: string[] = [];
  for (const [node, peers] of Object.entries(g)) {
    if (node === CLIENTS) problems.push(`"${CLIENTS}" cannot hold a grudge (the root namespace is never touched); cut a node from the clients instead`);
    else if (!all.includes(node)) problems.push(`unknown node ${node}`);
    if (!Array.isArray(peers)) {
      problems.push(`${node}: peers must be a list, got ${JSON.stringify(peers)}`);
      continue;
    }
    const seen = new Set<string>();
    for (const p of peers) {
      if (p === node) problems.push(`${node} drops its own packets`);
      else if (p !== CLIENTS && !all.includes(p)) problems.push(`${node} drops packets from unknown node ${p}`);
      if (seen.has(p)) problems.push(`${node} lists ${p} twice`);
      seen.add(p);
    }
  }
  if (problems.length > 0) throw new Error(`invalid grudge ${describeGrudge(g)}: ${problems.join("; ")} (nodes: ${all.join(", ") || "none"})`);
}
