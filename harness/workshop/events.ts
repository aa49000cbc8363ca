import { closeSync, openSync, readSync, statSync } from "node:fs";
import type { WorkshopEvent } from "./types.ts";

/**
 * What a failover looks like in Patroni's log, as numbered events for the page: the leader race, the promotion,
 * the demotion of an old primary, pg_rewind and the replicas re-pointed. Lines that say nothing new (the loop's
 * "no action") are left out. Patroni 3.0 to 4.1 word these the same.
 */
const PATTERNS: Array<{ re: RegExp; kind: string; text: (m: RegExpMatchArray, node: string) => string }> = [
  { re: /Got response from (\S+) http\S+: .*"role": "(\w+)"/, kind: "leader-race", text: (m, n) => `${n} asks ${m[1]} how far it got (${m[2]}) before racing for the key` },
  { re: /Request failed to (\S+): GET/, kind: "leader-race", text: (m, n) => `${n} cannot reach ${m[1]} in the leader race` },
  { re: /promoted self to leader by acquiring session lock/, kind: "promotion", text: (_m, n) => `${n} took the leader key and promotes its PostgreSQL` },
  { re: /acquired session lock as a leader/, kind: "promotion", text: (_m, n) => `${n} took the leader key` },
  { re: /(?:Demoting self|demoting self because|demoted self because) ?\(?([^)]*)\)?/i, kind: "demotion", text: (m, n) => `${n} demotes itself${m[1] ? `: ${m[1].trim()}` : ""}` },
  { re: /running pg_rewind from (\S+)$/, kind: "rewind", text: (m, n) => `${n} rewinds its data to ${m[1]}'s timeline` },
  { re: /Local timeline=(\d+) lsn=(\S+)/, kind: "rewind", text: (m, n) => `${n} was on timeline ${m[1]} at ${m[2]}` },
  { re: /starting as a secondary/, kind: "follow", text: (_m, n) => `${n} starts PostgreSQL as a replica` },
  { re: /(?:following a different leader|changing primary_conninfo and restarting)/, kind: "follow", text: (_m, n) => `${n} re-points its replication to the new leader` },
  { re: /Could not take out TTL lock/, kind: "leader-race", text: (_m, n) => `${n} lost the race for the leader key` },
  { re: /manual failover: demoting myself/, kind: "demotion", text: (_m, n) => `${n} demotes itself for a switchover` },
  { re: /Cleaning up failover key/, kind: "promotion", text: (_m, n) => `${n} completes the switchover` },
  { re: /Lock owner: (\S+); I am (\S+)$/, kind: "follow", text: (m, n) => `${n} follows ${m[1]}` },
  { re: /starting as readonly because i had the session lock/, kind: "start", text: (_m, n) => `${n} restarts holding its own leader key` },
  { re: /updated leader lock during promote/, kind: "promotion", text: (_m, n) => `${n} renews its key while promoting` },
];

/** The event a Patroni log line stands for, if any. Times come from the line (Patroni logs local time with ms). */
export function eventOfLine(node: string, line: string): WorkshopEvent | undefined {
  const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \w+: (.*)$/.exec(line);
  if (!m) return undefined;
  const message = m[3]!;
  for (const p of PATTERNS) {
    const found = message.match(p.re);
    if (found) return { time: new Date(`${m[1]!.replace(" ", "T")}.${m[2]}`).getTime(), node, kind: p.kind, text: p.text(found, node) };
  }
  return undefined;
}

/**
 * Follows one log file from where it is when created: each `poll` returns the events of the whole lines written
 * since. A repeated line ("Lock owner: n2; I am n3" every loop) is reported once until another event of the
 * node comes between.
 */
export class LogFollower {
  private offset: number;
  private rest = "";
  private last?: string;

  constructor(
    private readonly node: string,
    private readonly file: string,
    fromStart = false,
  ) {
    this.offset = fromStart ? 0 : size(file);
  }

  poll(): WorkshopEvent[] {
    const now = size(this.file);
    if (now < this.offset) this.offset = 0;
    if (now === this.offset) return [];
    const fd = openSync(this.file, "r");
    const buf = Buffer.alloc(Math.min(now - this.offset, 1 << 20));
    try {
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
    } finally {
      closeSync(fd);
    }
    const lines = (this.rest + buf.toString("utf8")).split("\n");
    this.rest = lines.pop() ?? "";
    const out: WorkshopEvent[] = [];
    for (const l of lines) {
      const e = eventOfLine(this.node, l);
      if (!e || e.text === this.last) continue;
      this.last = e.text;
      out.push(e);
    }
    return out;
  }
}

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
