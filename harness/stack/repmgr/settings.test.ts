import { describe, expect, it } from "vitest";
import { getProfile } from "../patroni/profiles.ts";
import { detectionSeconds, parseClusterCsv, pgHba, repmgrConf, repmgrTimings, REPMGR_DEFAULTS } from "./settings.ts";
import { podScript } from "./local.ts";
import { nodeId, RepmgrHaStack } from "./stack.ts";

const conf = () =>
  repmgrConf({
    nodeId: 2,
    name: "n2",
    address: "10.213.7.2",
    port: 5432,
    dataDir: "/var/tmp/pgchaos/abc123/n2/data",
    binDir: "/var/tmp/pgchaos/abc123/pgbin",
    confFile: "/var/tmp/pgchaos/abc123/n2/repmgr.conf",
    pidFile: "/var/tmp/pgchaos/abc123/n2/run/repmgrd.pid",
    pgLog: "/var/tmp/pgchaos/abc123/n2/log/postgresql.log",
    timings: repmgrTimings(getProfile("fast")),
  });

describe("repmgr.conf", () => {
  it("names the node, bounds every connection attempt and fails over automatically with promote and follow commands", () => {
    const c = conf();
    expect(c).toContain("node_id=2\n");
    expect(c).toContain("node_name='n2'\n");
    // Without connect_timeout a dropped packet stretches each reconnect to TCP's own timeout.
    expect(c).toContain("conninfo='host=10.213.7.2 port=5432 user=repmgr dbname=repmgr connect_timeout=2'\n");
    expect(c).toContain("failover='automatic'\n");
    expect(c).toContain("promote_command='/var/tmp/pgchaos/abc123/pgbin/repmgr standby promote -f /var/tmp/pgchaos/abc123/n2/repmgr.conf'\n");
    expect(c).toContain("follow_command='/var/tmp/pgchaos/abc123/pgbin/repmgr standby follow -f /var/tmp/pgchaos/abc123/n2/repmgr.conf --upstream-node-id=%n'\n");
    expect(c).toContain("reconnect_attempts=3\nreconnect_interval=2\n");
  });

  it("carries no password: those are in the node's .pgpass", () => {
    expect(conf()).not.toMatch(/password/i);
  });
});

describe("repmgr's timings for the harness's profiles", () => {
  it("default is repmgr 5.3's own; fast notices a dead primary sooner", () => {
    expect(repmgrTimings(getProfile("default"))).toEqual(REPMGR_DEFAULTS);
    expect(detectionSeconds(repmgrTimings(getProfile("fast")))).toBeLessThan(detectionSeconds(REPMGR_DEFAULTS));
    expect(detectionSeconds(repmgrTimings(getProfile("fast")))).toBe(1 + 3 * (2 + 2));
  });

  it("stretches scenario holds by its detection time over the profile's ttl, never shrinks them", () => {
    const stack = new RepmgrHaStack({ version: "5.3.3" });
    expect(stack.effectiveProfile(getProfile("fast")).timeScale).toBeCloseTo(13 / 10);
    expect(stack.effectiveProfile(getProfile("default")).timeScale).toBeCloseTo((2 + 6 * 12) / 30);
  });
});

describe("repmgr cluster show --csv", () => {
  const names = new Map([
    [1, "n1"],
    [2, "n2"],
    [3, "n3"],
  ]);

  it("reads which node runs as a primary and which it could not reach", () => {
    expect(parseClusterCsv("1,0,0\n2,0,1\n3,-1,-1\n", names)).toEqual([
      { name: "n1", running: true, primary: true },
      { name: "n2", running: true, primary: false },
      { name: "n3", running: false, primary: false },
    ]);
  });

  it("two nodes out of recovery are two primaries: the split a restarted old primary makes", () => {
    expect(parseClusterCsv("1,0,0\n2,0,0\n3,0,1\n", names).filter((m) => m.primary).map((m) => m.name)).toEqual(["n1", "n2"]);
  });

  it("refuses a line it does not understand rather than guessing", () => {
    expect(() => parseClusterCsv("n1,running\n", names)).toThrow(/unexpected line/);
    expect(() => parseClusterCsv("7,0,0\n", names)).toThrow(/unexpected line/);
  });

  it("a member's node_id is its number", () => {
    expect(nodeId("n3")).toBe(3);
    expect(() => nodeId("monitor")).toThrow(/no number/);
  });
});

describe("a repmgr member's files", () => {
  it("pg_hba takes passwords from the run's network and the node's own user over its socket", () => {
    const hba = pgHba("10.213.7.0/24");
    expect(hba).toMatch(/^local\s+all\s+all\s+peer$/m);
    expect(hba).toMatch(/^host\s+replication\s+repmgr\s+10\.213\.7\.0\/24\s+scram-sha-256$/m);
    expect(hba).not.toMatch(/trust/);
  });

  it("the pod starts PostgreSQL as it was, runs repmgrd once registered, and stops both on SIGTERM", () => {
    const s = podScript({ binDir: "/b", conf: "/n/repmgr.conf", dataDir: "/n/data", pgLog: "/n/log/postgresql.log" });
    expect(s).toContain('"$bin/pg_ctl" -w -t 60 -D "$data" -l "$log" start');
    expect(s).toContain('"$bin/repmgr" -f "$conf" node status');
    expect(s).toContain('"$bin/repmgrd" -f "$conf" --daemonize=false &');
    expect(s).toContain("trap stop TERM INT");
    expect(s).toMatch(/stop\(\) \{[^}]*-m fast stop/);
  });
});
