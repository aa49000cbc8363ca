import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { runNames } from "./names.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import pg from "pg";
import { LocalCluster } from "./cluster.ts";
import { getProfile } from "../../stack/patroni/profiles.ts";
import { leftovers, NOTHING, skipClusterTests } from "../../testing/leftovers.ts";
import { processesMentioning } from "./procs.ts";
import { WORK_ROOT } from "./state.ts";

async function query<R extends pg.QueryResultRow>(c: LocalCluster, host: string, port: number, sql: string): Promise<R[]> {
  const client = new pg.Client({ host, port, ...c.credentials, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe.skipIf(skipClusterTests())("local platform on a real cluster", () => {
  let cluster: LocalCluster;
  let runDir: string;

  beforeAll(async () => {
    runDir = mkdtempSync(join(tmpdir(), "pgchaos-it-"));
    cluster = await LocalCluster.deploy({ name: "it", nodes: 3, profile: getProfile("fast"), runDir, logger: pino({ level: "silent" }) });
  }, 120_000);

  afterAll(async () => {
    const id = cluster?.runId;
    await cluster?.teardown();
    if (id) expect(await leftovers(id)).toEqual(NOTHING);
    rmSync(runDir, { recursive: true, force: true });
  }, 60_000);

  it("comes up with one leader and every replica streaming", async () => {
    const ms = await cluster.members();
    expect(ms).toHaveLength(3);
    expect(ms.filter((m) => m.role === "leader")).toHaveLength(1);
    for (const m of ms.filter((x) => x.role !== "leader")) {
      expect(m.streaming, `${m.name} streaming`).toBe(true);
      expect(m.state).toBe("running");
    }
  });

  it("gives Patroni the run's PostgreSQL programs, whose pg_isready is PostgreSQL's own once bring-up ended", () => {
    const cfg = readFileSync(join(cluster.workDir, "n1", "patroni.yml"), "utf8");
    const binDir = /bin_dir: (.+)/.exec(cfg)?.[1];
    expect(binDir).toBe(join(cluster.workDir, "pgbin"));
    expect(readFileSync(join(binDir!, "pg_isready"), "utf8")).toContain("bring-up");
    // No fault, failover or recovery a scenario times may meet the bring-up's pg_isready.
    expect(existsSync(join(cluster.workDir, "bringing-up"))).toBe(false);
  });

  it("keeps its bridge's frames out of iptables, whatever Docker does to br_netfilter", () => {
    const dir = runNames(cluster.runId).bridge;
    for (const f of ["nf_call_iptables", "nf_call_ip6tables", "nf_call_arptables"]) expect(readFileSync(`/sys/class/net/${dir}/bridge/${f}`, "utf8").trim()).toBe("0");
  });

  it("routes the primary service to the leader", async () => {
    const leader = (await cluster.members()).find((m) => m.role === "leader")!;
    const [row] = await query<{ addr: string; ro: boolean }>(
      cluster,
      cluster.primaryService.host,
      cluster.primaryService.port,
      "SELECT host(inet_server_addr()) AS addr, pg_is_in_recovery() AS ro",
    );
    expect(row).toEqual({ addr: cluster.endpoint(leader.name).host, ro: false });
  });

  it("records the profile's HA settings", () => {
    expect(cluster.settings).toMatchObject({ profile: "fast", ttl: 10, loop_wait: 1, retry_timeout: 4 });
    expect(cluster.settings.postgresql).toMatchObject({ wal_sender_timeout: "10s" });
  });

  it("keeps each node's PostgreSQL log outside its data directory", () => {
    for (const n of cluster.nodes) {
      expect(existsSync(join(WORK_ROOT, cluster.runId, n, "log", "postgresql.log"))).toBe(true);
      expect(existsSync(join(WORK_ROOT, cluster.runId, n, "data", "log"))).toBe(false);
    }
  });

  it("kills a node like a pod kill (nothing of it survives) and brings it back as a streaming member", async () => {
    const replica = (await cluster.members()).find((m) => m.role !== "leader")!.name;
    const dataDir = join(WORK_ROOT, cluster.runId, replica, "data");
    expect(processesMentioning(dataDir).length).toBeGreaterThan(0);
    await cluster.killNode(replica);
    expect(cluster.isNodeRunning(replica)).toBe(false);
    expect(processesMentioning(dataDir)).toEqual([]);
    await expect(query(cluster, cluster.endpoint(replica).host, 5432, "SELECT 1")).rejects.toThrow();
    await cluster.startNode(replica);
    await cluster.waitReady({ timeoutMs: 60_000 });
    const m = (await cluster.members()).find((x) => x.name === replica)!;
    expect(m.streaming).toBe(true);
  }, 90_000);

  it("starts a killed pod with an empty socket folder, as a container gets a fresh /run", async () => {
    // A killed postmaster leaves its socket lock file naming its PID; the new pod's PID namespace hands low PIDs out
    // again, and when one lives PostgreSQL refuses to start ("lock file ... already exists. Is another postmaster
    // (PID 26) using socket file"): seen in 1 of 5 quick restarts of a primary, which then lost its leader key.
    const replica = (await cluster.members()).find((m) => m.role !== "leader")!.name;
    await cluster.killNode(replica);
    const run = join(WORK_ROOT, cluster.runId, replica, "run");
    writeFileSync(join(run, ".s.PGSQL.5432.lock"), "26\n/nonexistent\n0\n5432\n/tmp\n");
    writeFileSync(join(run, "left-by-the-old-pod"), "");
    await cluster.startNode(replica);
    await cluster.waitReady({ timeoutMs: 60_000 });
    expect(existsSync(join(run, "left-by-the-old-pod"))).toBe(false);
    // The new postmaster may well get PID 26 again in its fresh PID namespace; the data directory line tells a lock
    // file it wrote from the one the old pod left.
    expect(readFileSync(join(run, ".s.PGSQL.5432.lock"), "utf8").split("\n")[1]).toBe(join(WORK_ROOT, cluster.runId, replica, "data"));
  }, 90_000);

  it("switches over to a named candidate through Patroni's REST API", async () => {
    const before = await cluster.members();
    const leader = before.find((m) => m.role === "leader")!.name;
    const candidate = before.find((m) => m.role !== "leader")!.name;
    const r = await cluster.switchover({ candidate });
    expect(r.from).toBe(leader);
    await cluster.waitReady({ timeoutMs: 60_000 });
    expect((await cluster.members()).find((m) => m.role === "leader")!.name).toBe(candidate);
  }, 90_000);

  it("stops the primary gracefully and another member takes over", async () => {
    const leader = (await cluster.members()).find((m) => m.role === "leader")!.name;
    await cluster.stopNode(leader);
    expect(processesMentioning(join(WORK_ROOT, cluster.runId, leader, "data"))).toEqual([]);
    // A graceful stop releases the leader key: another member leads without waiting for ttl.
    const started = performance.now();
    let newLeader: string | undefined;
    while (!newLeader && performance.now() - started < 30_000) {
      newLeader = (await cluster.members().catch(() => [])).find((m) => m.role === "leader" && m.name !== leader)?.name;
      if (!newLeader) await new Promise((r) => setTimeout(r, 200));
    }
    expect(newLeader).toBeDefined();
    await cluster.startNode(leader);
    await cluster.waitReady({ timeoutMs: 60_000 });
  }, 90_000);

  it("starts Patroni again when it exits during its start because etcd refused it", async () => {
    const replica = (await cluster.members()).find((m) => m.role !== "leader")!.name;
    const log = join(WORK_ROOT, cluster.runId, replica, "log", "patroni.log");
    const crashesBefore = (readFileSync(log, "utf8").match(/No more machines in the cluster/g) ?? []).length;
    await cluster.killProcess(replica, "patroni");
    // etcd answers this node, except its lease grants, which every member resets: Patroni 3.0.2's first lease
    // grant fails with a connection error, which it does not retry, and the process exits.
    const rule = ["OUTPUT", "-p", "tcp", "--dport", "2379", "-m", "string", "--algo", "bm", "--string", "/v3/lease/grant", "-m", "comment", "--comment", cluster.ruleTag, "-j", "REJECT", "--reject-with", "tcp-reset"];
    await cluster.iptables(replica, ["-A", ...rule]);
    const start = cluster.startNode(replica);
    // Give etcd back once Patroni has crashed at least once.
    const deadline = performance.now() + 60_000;
    while ((readFileSync(log, "utf8").match(/No more machines in the cluster/g) ?? []).length === crashesBefore && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await cluster.clearRules(replica);
    await start;
    expect((readFileSync(log, "utf8").match(/No more machines in the cluster/g) ?? []).length).toBeGreaterThan(crashesBefore);
    expect(cluster.isNodeRunning(replica)).toBe(true);
    await cluster.waitReady({ timeoutMs: 60_000 });
  }, 120_000);

  it("a Patroni started again in its pod can be frozen, thawed, frozen again and killed with its pod", async () => {
    const replica = (await cluster.members()).find((m) => m.role !== "leader")!.name;
    await cluster.killProcess(replica, "patroni");
    await cluster.startNode(replica);
    await cluster.pause(replica, "all");
    await cluster.resume(replica);
    // Nothing of ours may stay stopped after a thaw (a stopped parent would never reap its child).
    const stopped = (await import("node:child_process")).execFileSync("ps", ["-eo", "stat=,args="], { encoding: "utf8" }).split("\n").filter((l) => /^T/.test(l) && l.includes(cluster.runId));
    expect(stopped).toEqual([]);
    await cluster.pause(replica, "all");
    await cluster.killNode(replica); // used to time out: "pod ... survived SIGKILL"
    expect(cluster.isNodeRunning(replica)).toBe(false);
    await cluster.startNode(replica);
    await cluster.waitReady({ timeoutMs: 60_000 });
  }, 120_000);

  it("copies node logs into the run directory with passwords redacted", async () => {
    await cluster.collectLogs();
    for (const n of cluster.nodes) {
      expect(existsSync(join(runDir, "logs", n, "patroni.log"))).toBe(true);
      expect(existsSync(join(runDir, "logs", n, "etcd.log"))).toBe(true);
      const yml = (await import("node:fs")).readFileSync(join(runDir, "logs", n, "patroni.yml"), "utf8");
      expect(yml).toContain("<redacted>");
      expect(yml).not.toContain(cluster.credentials.password);
    }
  });
});
