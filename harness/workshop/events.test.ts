import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { eventOfLine, LogFollower } from "./events.ts";

// Lines as Patroni 3.0.2 wrote them during a primary kill on this machine (n1 won the race, n2 was the old primary).
const RACE = '2026-11-30 01:14:33,247 INFO: Got response from n3 http://10.213.24.3:8008/patroni: {"state": "running", "role": "replica", "server_version": 150014}';
const UNREACHABLE = "2026-11-30 01:14:33,235 WARNING: Request failed to n2: GET http://10.213.24.2:8008/patroni (HTTPConnectionPool(...))";
const PROMOTED = "2026-11-30 01:14:33,395 INFO: promoted self to leader by acquiring session lock";
const REWIND = "2026-11-30 01:14:38,704 INFO: running pg_rewind from n1";
const NOTHING = "2026-11-30 01:14:20,703 INFO: no action. I am (n2), the leader with the lock";

describe("failover events from Patroni's log", () => {
  it("names the leader race, the promotion and the rewind, with the line's time", () => {
    expect(eventOfLine("n1", RACE)).toMatchObject({ kind: "leader-race", node: "n1", text: "n1 asks n3 how far it got (replica) before racing for the key" });
    expect(eventOfLine("n1", UNREACHABLE)).toMatchObject({ kind: "leader-race", text: "n1 cannot reach n2 in the leader race" });
    const p = eventOfLine("n1", PROMOTED)!;
    expect(p.kind).toBe("promotion");
    expect(new Date(p.time).toTimeString().slice(0, 8)).toBe("01:14:33");
    expect(p.time % 1000).toBe(395);
    expect(eventOfLine("n2", REWIND)).toMatchObject({ kind: "rewind", text: "n2 rewinds its data to n1's timeline" });
  });

  it("leaves out what says nothing new, and what is not a Patroni line", () => {
    expect(eventOfLine("n2", NOTHING)).toBeUndefined();
    expect(eventOfLine("n2", "creating directory /var/tmp/pgchaos/x/n2/data ... ok")).toBeUndefined();
  });

  it("follows a log from where it was, whole lines only, and says a repeated line once", () => {
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-events-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "patroni.log");
    writeFileSync(file, `${PROMOTED}\n`);
    const f = new LogFollower("n1", file);
    expect(f.poll()).toEqual([]);
    appendFileSync(file, `${NOTHING}\n${REWIND}\n${REWIND}\n${RACE.slice(0, 40)}`);
    expect(f.poll().map((e) => e.kind)).toEqual(["rewind"]);
    appendFileSync(file, `${RACE.slice(40)}\n`);
    expect(f.poll().map((e) => e.kind)).toEqual(["leader-race"]);
    expect(new LogFollower("n1", file, true).poll().map((e) => e.kind)).toEqual(["promotion", "rewind", "leader-race"]);
  });
});
