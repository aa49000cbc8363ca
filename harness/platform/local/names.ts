import { randomBytes } from "node:crypto";

/** Every kernel object a run makes carries this prefix and the run id, so cleanup can find strays. */
export const PREFIX = "pgc";

export function newRunId(): string {
  return randomBytes(3).toString("hex");
}

/** Names of one run's kernel objects; interface names must fit IFNAMSIZ (15 characters). */
export function runNames(runId: string) {
  if (!/^[0-9a-f]{6}$/.test(runId)) throw new Error(`bad run id "${runId}": expected 6 hex digits`);
  return {
    bridge: `${PREFIX}${runId}br`,
    netns: (i: number) => `${PREFIX}-${runId}-n${i}`,
    /** Root-namespace end of the node's veth pair; the other end is eth0 inside the namespace. */
    vethHost: (i: number) => `${PREFIX}${runId}h${i}`,
  };
}

export function nodeName(i: number): string {
  return `n${i}`;
}

export interface Subnet {
  /** e.g. "10.213.45" */
  base: string;
  cidr: string;
  bridgeAddress: string;
  nodeAddress(i: number): string;
}

export function subnet(base: string): Subnet {
  return {
    base,
    cidr: `${base}.0/24`,
    bridgeAddress: `${base}.254`,
    nodeAddress: (i: number) => `${base}.${i}`,
  };
}

/**
 * Picks a /24 in 10.213.0.0/16 that no route or address on this machine already covers, so that two runs
 * at once never share addresses and no probe can reach a network we did not create.
 */
export function pickSubnet(usedPrefixes: readonly string[], random: () => number = Math.random): Subnet {
  const used = new Set<number>();
  for (const p of usedPrefixes) {
    const m = /^10\.(\d+)\.(\d+)\.\d+(?:\/(\d+))?/.exec(p);
    if (!m) continue;
    const second = Number(m[1]);
    const third = Number(m[2]);
    const len = m[3] === undefined ? 32 : Number(m[3]);
    if (len <= 16) {
      // A covering route (10.0.0.0/8, 10.208.0.0/12, 10.213.0.0/16 ...) would make the whole range ambiguous.
      if (len >= 8 && (second >> (16 - len)) === (213 >> (16 - len))) throw new Error(`a route ${p} covers 10.213.0.0/16; pgchaos needs that range free for its bridge`);
    } else if (second === 213) {
      // A /17../23 covers several of our /24s; a /24 or longer, exactly one.
      const span = 2 ** Math.max(0, 24 - len);
      const start = third - (third % span);
      for (let x = start; x < start + span; x++) used.add(x);
    }
  }
  const free: number[] = [];
  for (let x = 1; x <= 254; x++) if (!used.has(x)) free.push(x);
  if (free.length === 0) throw new Error("no free /24 left in 10.213.0.0/16: run `npm run scenario -- --cleanup`");
  const x = free[Math.floor(random() * free.length)]!;
  return subnet(`10.213.${x}`);
}
