/**
 * The platform contract: what every platform (local namespaces, kind, minikube) must do for the harness, as
 * one vitest suite that each platform's test file registers with its own factory. The same scenarios, probes,
 * checkers and reports then work on each platform because each passed the same tests.
 *
 *   deploy            one leader, every replica streaming on its timeline
 *   primary service   routes to the leader, which takes writes
 *   replica kill      a killed replica is down, comes back and streams again
 *   machine failure   a replica's machine fails silently, boots and streams again
 *   switchover        to a named candidate, which then leads
 *   pause             a paused replica answers nothing until resumed, then streams again
 *   partition         a replica cut from its peers gets no WAL until the heal, then catches up
 *   teardown          leaves nothing behind (the platform says what "nothing" means: `leftovers`)
 *
 * A suite that cannot run here is skipped with the reason printed, never silently.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import pg from "pg";
import type { Cluster, Endpoint, Platform } from "../types.ts";
import { getProfile } from "../../stack/patroni/profiles.ts";
import { isolate } from "../../faults/grudge.ts";
import { grudgeRules } from "../../faults/rules.ts";
import { applyRules } from "../../faults/network.ts";
import { waitFor } from "../../util/wait.ts";
import { resolveStack, stackCapabilities } from "../../stack/index.ts";
import { PatroniHaStack } from "../../stack/patroni/stack.ts";
import type { HaStack } from "../../stack/types.ts";

export interface ContractOptions {
  /** Why the suite cannot run on this machine, or undefined when it can. */
  skipReason?: string;
  /** What of `cluster` is left after its teardown; the contract wants an empty list. */
  leftovers: (cluster: Cluster) => Promise<string[]>;
  /** Budget for deploy (a kind cluster and its image can take minutes the first time). */
  deployTimeoutMs?: number;
  /** Budget for each fault-and-recover test. */
  stepTimeoutMs?: number;
  /** The HA stack to run (`patroni@4.0.7`); the platform's default when absent. */
  stack?: string;
  /** A variant of the platform, for the suite's title (`forward reach`). */
  variant?: string;
  /** The version the member's HA agent says it runs, where the platform can ask it (to prove the stack asked for is the one running). */
  agentVersion?: (cluster: Cluster, node: string) => Promise<string>;
}

async function query<R extends pg.QueryResultRow>(c: Cluster, ep: Endpoint, sql: string): Promise<R[]> {
  const client = new pg.Client({ host: ep.host, port: ep.port, ...c.credentials, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function leaderOf(c: Cluster): Promise<string> {
  const leader = (await c.members()).find((m) => m.role === "leader");
  if (!leader) throw new Error("no leader");
  return leader.name;
}

/** Registers the contract suite for one platform. */
export function platformContract(name: string, makePlatform: () => Platform, opts: ContractOptions): void {
  const title = [name, opts.stack, opts.variant].filter(Boolean).join(", ");
  const offers = (cap: "node-failure" | "pause" | "partition") => opts.skipReason !== undefined || makePlatform().capabilities.has(cap);
  const nodeFailure = offers("node-failure");
  if (opts.skipReason) console.warn(`skipping the ${title} platform contract: ${opts.skipReason}`);
  const deployTimeoutMs = opts.deployTimeoutMs ?? 180_000;
  const stepTimeoutMs = opts.stepTimeoutMs ?? 120_000;

  describe.skipIf(opts.skipReason !== undefined)(`platform contract: ${title}`, () => {
    let platform: Platform;
    let cluster: Cluster | undefined;
    let runDir: string;
    let tornDown = false;
    let stack: HaStack | undefined;

    beforeAll(async () => {
      platform = makePlatform();
      await platform.preflight();
      runDir = mkdtempSync(join(tmpdir(), `pgchaos-contract-${name}-`));
      stack = opts.stack ? await resolveStack(opts.stack) : undefined;
      // networkFaults: the partition test below, where a platform needs an agent of its own for it (kube by context).
      cluster = await platform.deploy({ name: "contract", nodes: 3, profile: getProfile("fast"), runDir, logger: pino({ level: "silent" }), readyTimeoutMs: deployTimeoutMs, stack, networkFaults: offers("partition") });
    }, deployTimeoutMs + 60_000);

    afterAll(async () => {
      if (cluster && !tornDown) await cluster.teardown();
      if (runDir) rmSync(runDir, { recursive: true, force: true });
    }, 300_000);

    const c = () => {
      if (!cluster) throw new Error("the cluster was not deployed");
      return cluster;
    };

    it("deploys one leader and every replica streaming on the leader's timeline", async () => {
      expect(c().platform).toBe(name);
      expect(c().nodes).toHaveLength(3);
      const ms = await c().members();
      expect(ms.map((m) => m.name).sort()).toEqual([...c().nodes].sort());
      const leaders = ms.filter((m) => m.role === "leader");
      expect(leaders).toHaveLength(1);
      for (const m of ms.filter((x) => x.role !== "leader")) {
        expect(m.streaming, `${m.name} streaming`).toBe(true);
        expect(m.state, `${m.name} state`).toBe("running");
        expect(m.timeline, `${m.name} timeline`).toBe(leaders[0]!.timeline);
      }
      // The fast profile's ttl 10, or what the stack raises it to (Patroni 3.2+: 20), as reported.
      // The cluster's own stack when none was asked (the image's Patroni on Kubernetes).
      const runs = stack ?? (c() as { stack?: HaStack }).stack;
      if (runs === undefined || runs instanceof PatroniHaStack) {
        const ttl = runs ? runs.effectiveProfile(getProfile("fast")).profile.dcs.ttl : 10;
        expect(c().settings).toMatchObject({ profile: "fast", ttl, loop_wait: 1 });
      }
      if (opts.stack) {
        expect(c().settings.stack).toBe(opts.stack);
        if (opts.agentVersion) {
          for (const n of c().nodes) expect(await opts.agentVersion(c(), n), `${n} runs ${opts.stack}`).toBe(stack!.info.version);
        }
      }
    });

    it("routes the primary service to the leader, which takes writes", async () => {
      const leader = await leaderOf(c());
      const [viaService] = await query<{ addr: string; ro: boolean }>(c(), c().primaryService, "SELECT host(inet_server_addr()) AS addr, pg_is_in_recovery() AS ro");
      const [direct] = await query<{ addr: string }>(c(), c().endpoint(leader), "SELECT host(inet_server_addr()) AS addr");
      expect(viaService!.ro).toBe(false);
      expect(viaService!.addr).toBe(direct!.addr);
      await query(c(), c().primaryService, "CREATE TABLE IF NOT EXISTS pgchaos_contract (id int PRIMARY KEY); INSERT INTO pgchaos_contract VALUES (1) ON CONFLICT DO NOTHING");
    });

    it(
      "kills a replica, which is down until started again, and comes back streaming",
      async () => {
        const replica = (await c().members()).find((m) => m.role !== "leader")!.name;
        await c().killNode(replica);
        expect(c().isNodeRunning(replica)).toBe(false);
        await c().startNode(replica);
        expect(c().isNodeRunning(replica)).toBe(true);
        await c().waitReady({ timeoutMs: stepTimeoutMs - 10_000, reason: `${replica} back after a kill` });
        const m = (await c().members()).find((x) => x.name === replica)!;
        expect(m.streaming).toBe(true);
        const rows = await query<{ id: number }>(c(), c().endpoint(replica), "SELECT id FROM pgchaos_contract");
        expect(rows).toEqual([{ id: 1 }]);
      },
      stepTimeoutMs,
    );

    // Only where the platform can fail a machine (not on a cluster reached by context: it has no way to power a node off).
    it.skipIf(!nodeFailure)(
      "fails a replica's machine, which answers nothing until it boots again and streams",
      async () => {
        const replica = (await c().members()).find((m) => m.role !== "leader")!.name;
        const { host } = await c().failHost(replica);
        expect(host).not.toBe("");
        expect(c().isNodeRunning(replica)).toBe(false);
        await expect(query(c(), c().endpoint(replica), "SELECT 1")).rejects.toThrow();
        await c().restoreHost(replica);
        expect(c().isNodeRunning(replica)).toBe(true);
        await c().waitReady({ timeoutMs: stepTimeoutMs - 10_000, reason: `${replica}'s machine back` });
        const rows = await query<{ id: number }>(c(), c().endpoint(replica), "SELECT id FROM pgchaos_contract");
        expect(rows).toEqual([{ id: 1 }]);
      },
      stepTimeoutMs,
    );

    // Only where the stack takes a switchover (repmgr's goes over ssh, which the harness does not give the nodes).
    it.skipIf(opts.stack !== undefined && !stackCapabilities(opts.stack).capabilities.has("switchover"))(
      "switches over to a named candidate, which then leads",
      async () => {
        const before = await c().members();
        const leader = before.find((m) => m.role === "leader")!.name;
        const candidate = before.find((m) => m.role !== "leader")!.name;
        const r = await c().switchover({ candidate });
        expect(r.from).toBe(leader);
        await c().waitReady({ timeoutMs: stepTimeoutMs - 10_000, reason: `switchover to ${candidate}` });
        expect(await leaderOf(c())).toBe(candidate);
        const [row] = await query<{ ro: boolean }>(c(), c().primaryService, "SELECT pg_is_in_recovery() AS ro");
        expect(row!.ro).toBe(false);
      },
      stepTimeoutMs,
    );

    it.skipIf(!offers("pause"))(
      "pauses a replica, which answers nothing until resumed, then streams again",
      async () => {
        const replica = (await c().members()).find((m) => m.role !== "leader")!.name;
        await c().pause(replica, "all");
        try {
          await expect(query(c(), c().endpoint(replica), "SELECT 1")).rejects.toThrow();
        } finally {
          await c().resume(replica);
        }
        await c().waitReady({ timeoutMs: stepTimeoutMs - 20_000, reason: `${replica} resumed` });
        expect((await c().members()).find((m) => m.name === replica)!.streaming).toBe(true);
      },
      stepTimeoutMs,
    );

    // Peers only, not the clients: the test reads the replica the way clients do, on every platform.
    it.skipIf(!offers("partition"))(
      "cuts a replica off from its peers: it gets no WAL until the heal, then catches up",
      async () => {
        const replica = (await c().members()).find((m) => m.role !== "leader")!.name;
        const all = [...c().nodes, ...(c().serviceHosts ?? [])];
        const g = isolate(replica, all, { clients: false });
        const rules = c().partitionRules?.(g) ?? grudgeRules(g, (n) => c().addressOf(n), c().clientsAddress, c().ruleTag);
        await applyRules({ cluster: c(), log: pino({ level: "silent" }) }, rules);
        try {
          expect((await c().listRules()).length).toBeGreaterThan(0);
          await query(c(), c().primaryService, "INSERT INTO pgchaos_contract VALUES (2)");
          await new Promise((r) => setTimeout(r, 2000));
          expect(await query<{ id: number }>(c(), c().endpoint(replica), "SELECT id FROM pgchaos_contract ORDER BY id")).toEqual([{ id: 1 }]);
        } finally {
          await c().clearRules();
        }
        expect(await c().listRules()).toEqual([]);
        await c().waitReady({ timeoutMs: stepTimeoutMs - 30_000, reason: `${replica}'s partition healed` });
        await waitFor({ condition: `${replica} to replay the write made during the cut`, where: replica, timeoutMs: 20_000, intervalMs: 500 }, async () => {
          const rows = await query<{ id: number }>(c(), c().endpoint(replica), "SELECT id FROM pgchaos_contract ORDER BY id");
          return rows.length === 2;
        });
      },
      stepTimeoutMs,
    );

    it(
      "tears down, idempotently, leaving nothing behind",
      async () => {
        await c().teardown();
        tornDown = true;
        expect((await c().teardown()).ms).toBe(0);
        expect(await opts.leftovers(c())).toEqual([]);
      },
      300_000,
    );
  });
}

/**
 * The contract of a platform that runs only when asked (PGCHAOS_PLATFORM=`name`): skipped with `reason` printed when
 * it cannot run here, except in CI (CI set) with PGCHAOS_PLATFORM=`name`, where a machine that cannot run it fails
 * the suite instead: a job that asked for the platform must not pass without running it.
 */
export function askedPlatformContract(name: string, reason: string | undefined, makePlatform: () => Platform, opts: Omit<ContractOptions, "skipReason">): void {
  if (reason && process.env.PGCHAOS_PLATFORM === name && !!process.env.CI) {
    it(`runs the ${name} platform contract, as PGCHAOS_PLATFORM=${name} asks in CI`, () => {
      throw new Error(`PGCHAOS_PLATFORM=${name} in CI, but ${reason}`);
    });
    return;
  }
  platformContract(name, makePlatform, { ...opts, skipReason: reason });
}
