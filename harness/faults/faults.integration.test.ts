import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import pg from "pg";
import { connect } from "node:net";
import { LocalCluster } from "../platform/local/cluster.ts";
import { getProfile } from "../stack/patroni/profiles.ts";
import { leftovers, NOTHING, skipClusterTests } from "../testing/leftovers.ts";
import { listProcesses, stateOf } from "../platform/local/procs.ts";
import { readFileSync } from "node:fs";
import { createFault, type FaultSpec } from "./spec.ts";
import type { FaultContext } from "./types.ts";

/** Whether `node`'s PostgreSQL answers a query from the root namespace within a second. */
async function reachable(c: LocalCluster, node: string): Promise<boolean> {
  const client = new pg.Client({ host: c.addressOf(node), port: 5432, ...c.credentials, connectionTimeoutMillis: 1000, query_timeout: 1000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    client.end().catch(() => undefined);
  }
}

/** How a TCP connection to address:port ends within `ms`: "open", "refused" (a reset) or "silent" (no answer). */
function tcpOutcome(host: string, port: number, ms = 1500): Promise<"open" | "refused" | "silent"> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (r: "open" | "refused" | "silent") => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(ms, () => done("silent"));
    s.on("connect", () => done("open"));
    s.on("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNREFUSED" ? "refused" : "silent"));
  });
}

function stoppedProcesses(marker: string): number[] {
  return listProcesses()
    .filter((p) => p.cmdline.includes(marker))
    .filter((p) => {
      try {
        return stateOf(readFileSync(`/proc/${p.pid}/stat`, "utf8")) === "T";
      } catch {
        return false;
      }
    })
    .map((p) => p.pid);
}

describe.skipIf(skipClusterTests())("fault families on a real cluster: inject, heal, nothing left", () => {
  let c: LocalCluster;
  let ctx: FaultContext;
  let runDir: string;

  /** Injects, checks `during`, heals, then requires the cluster whole again with no rule left. */
  async function roundTrip(spec: FaultSpec, during: (nodes: string[]) => Promise<void>, holdMs = 0): Promise<string[]> {
    const fault = createFault(spec);
    const nodes = await fault.resolve(ctx);
    await fault.inject(ctx, nodes);
    try {
      if (holdMs) await new Promise((r) => setTimeout(r, holdMs));
      await during(nodes);
    } finally {
      await fault.heal(ctx);
      await fault.heal(ctx); // heal is idempotent
    }
    expect(await c.listRules()).toEqual([]);
    await c.waitReady({ timeoutMs: 120_000, reason: `after ${spec.kind}` });
    for (const n of c.nodes) expect(await reachable(c, n), `${n} reachable after healing ${spec.kind}`).toBe(true);
    return nodes;
  }

  // Each test starts from a whole cluster. A member found down here would be a harness bug (it was one:
  // Patroni 3.0.2 exits when its first etcd lease grant fails with a connection error, which under CI load
  // happened to a Patroni restarted by the patroni-kill heal; startNode now starts such a Patroni again). It
  // is reported with its log rather than failing an unrelated fault's test, and fails the suite at the end.
  const foundDown: string[] = [];
  beforeEach(async () => {
    for (const n of c.nodes) {
      if (!c.isNodeRunning(n)) {
        foundDown.push(n);
        // Evidence for the next reader: the end of the member's Patroni log.
        const log = join(c.workDir, n, "log", "patroni.log");
        const tail = existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-120).join("\n") : "(no log)";
        console.warn(`member ${n}'s Patroni was not running before "${expect.getState().currentTestName}"; starting it. End of its patroni.log:\n${tail}`);
        await c.startNode(n);
      }
    }
    await c.waitReady({ timeoutMs: 120_000, reason: "before the next fault" });
  }, 150_000);

  beforeAll(async () => {
    runDir = mkdtempSync(join(tmpdir(), "pgchaos-faults-"));
    c = await LocalCluster.deploy({ name: "faults", nodes: 3, profile: getProfile("fast"), runDir, logger: pino({ level: "silent" }) });
    ctx = { cluster: c, log: pino({ level: "silent" }) };
  }, 120_000);

  afterAll(async () => {
    const id = c?.runId;
    await c?.teardown();
    if (foundDown.length > 0) console.warn(`members found down between tests: ${foundDown.join(", ")} (logs are in ${runDir})`);
    if (id) expect(await leftovers(id)).toEqual(NOTHING);
    // Keep the logs when a member was found down: they are the evidence.
    if (foundDown.length === 0) rmSync(runDir, { recursive: true, force: true });
    expect(foundDown, "members found down between tests (see the logs printed above)").toEqual([]);
  }, 60_000);

  it("pause freezes the member and heal thaws every process", async () => {
    await roundTrip({ kind: "pause", target: "replica", part: "all" }, async ([n]) => {
      expect(await reachable(c, n!)).toBe(false);
      expect(stoppedProcesses(join(c.workDir, n!)).length).toBeGreaterThan(0);
    });
    expect(stoppedProcesses(c.workDir)).toEqual([]);
  }, 120_000);

  it("postgres-kill: Patroni restarts PostgreSQL by itself", async () => {
    await roundTrip({ kind: "postgres-kill", target: "replica" }, async ([n]) => {
      expect(c.isNodeRunning(n!)).toBe(true);
    });
  }, 120_000);

  it("patroni-kill: PostgreSQL keeps serving; heal starts Patroni again in the pod", async () => {
    await roundTrip({ kind: "patroni-kill", target: "replica" }, async ([n]) => {
      expect(c.isNodeRunning(n!)).toBe(false);
      expect(await reachable(c, n!)).toBe(true);
    });
  }, 120_000);

  it("isolate cuts the node from peers and clients; heal removes every rule", async () => {
    await roundTrip({ kind: "partition", shape: "isolate", target: "replica" }, async ([n]) => {
      expect(await reachable(c, n!)).toBe(false);
      expect((await c.listRules()).length).toBeGreaterThan(0);
    });
  }, 120_000);

  it("dcs-isolate leaves PostgreSQL reachable and drops only Patroni's DCS traffic", async () => {
    await roundTrip({ kind: "partition", shape: "dcs-isolate", target: "replica" }, async ([n]) => {
      expect(await reachable(c, n!)).toBe(true);
      expect((await c.listRules()).some((r) => r.startsWith(`${n}:`) && r.includes("--dport 2379"))).toBe(true);
    });
  }, 120_000);

  for (const shape of ["oneway-in", "oneway-out", "majority-minority", "bridge"] as const) {
    it(`${shape} applies rules and heals to a whole cluster`, async () => {
      await roundTrip({ kind: "partition", shape, target: shape === "bridge" ? "replica" : "primary" }, async () => {
        expect((await c.listRules()).length).toBeGreaterThan(0);
      });
    }, 150_000);
  }

  it("link-down makes the node unreachable until heal", async () => {
    await roundTrip({ kind: "link-down", target: "replica" }, async ([n]) => {
      expect(await reachable(c, n!)).toBe(false);
    });
  }, 120_000);

  it("packet-loss adds a statistic rule and heal removes it", async () => {
    await roundTrip({ kind: "packet-loss", target: "replica", probability: 0.5 }, async ([n]) => {
      expect((await c.listRules()).some((r) => r.startsWith(`${n}:`) && r.includes("statistic"))).toBe(true);
    });
  }, 120_000);

  it("latency is refused with the reason on a kernel without netem, or applied where it has one", async () => {
    const why = await c.latencyUnsupported();
    const fault = createFault({ kind: "latency", target: "replica", delayMs: 50, jitterMs: 0 });
    if (why) {
      await expect(fault.resolve(ctx)).rejects.toThrow(/sch_netem/);
    } else {
      await roundTrip({ kind: "latency", target: "replica", delayMs: 50, jitterMs: 0 }, async () => undefined);
    }
  }, 120_000);

  it("etcd leader kill: another member leads and the killed one rejoins", async () => {
    const before = await c.dcsLeader();
    const [n] = await roundTrip({ kind: "dcs-kill", target: "dcs-leader" }, async () => undefined, 2500);
    expect(n).toBe(before);
    expect(await c.dcsLeader()).toBeDefined();
  }, 120_000);

  it("etcd pause and heal", async () => {
    await roundTrip({ kind: "dcs-pause", target: "dcs-leader" }, async () => undefined, 1500);
  }, 120_000);

  it("failover to a named replica makes it the leader", async () => {
    const [n] = await roundTrip({ kind: "failover", target: "replica" }, async () => undefined);
    expect((await c.members()).find((m) => m.role === "leader")?.name).toBe(n);
  }, 120_000);

  it("node-failure silences the whole machine (Patroni, PostgreSQL, etcd) and heal boots it back", async () => {
    const [n] = await roundTrip({ kind: "node-failure", target: "replica" }, async ([x]) => {
      expect(c.isNodeRunning(x!)).toBe(false);
      // A powered-off machine answers nothing: connections time out instead of being refused, as they are
      // after a mere process kill.
      expect(await tcpOutcome(c.addressOf(x!), 5432)).toBe("silent");
      expect(await tcpOutcome(c.addressOf(x!), 2379)).toBe("silent");
      expect(listProcesses().filter((p) => p.cmdline.includes(join(c.workDir, x!)))).toEqual([]);
    });
    expect(c.isNodeRunning(n!)).toBe(true);
    expect(await tcpOutcome(c.addressOf(n!), 2379)).toBe("open");
  }, 150_000);

  it("drain switches over away from the primary, stops it, and heal brings it back", async () => {
    const [n] = await roundTrip({ kind: "drain", target: "primary" }, async ([x]) => {
      expect(c.isNodeRunning(x!)).toBe(false);
      expect((await c.members()).find((m) => m.role === "leader")?.name).not.toBe(x);
    });
    expect(c.isNodeRunning(n!)).toBe(true);
  }, 150_000);
});
