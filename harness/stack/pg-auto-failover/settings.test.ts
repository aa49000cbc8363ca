import { describe, expect, it } from "vitest";
import { getProfile } from "../patroni/profiles.ts";
import { failoverBudgetSeconds, monitorSettingsSql, normaliseNode, PGAF_DEFAULTS, pgafTimings, type PgafNodeState } from "./settings.ts";
import { redactPasswords, synchronousSettings } from "./local.ts";
import { PgAutoFailoverHaStack } from "./stack.ts";
import { haproxyConfig } from "../patroni/config.ts";

const row = (over: Partial<PgafNodeState>): PgafNodeState => ({
  nodename: "n1",
  nodehost: "10.213.7.1",
  nodeport: 5432,
  health: 1,
  reported_tli: 1,
  current_group_state: "primary",
  assigned_group_state: "primary",
  ...over,
});

describe("pg_auto_failover's states as members", () => {
  it("a settled primary leads and runs; a secondary streams", () => {
    expect(normaliseNode(row({}))).toMatchObject({ name: "n1", role: "leader", state: "running", timeline: 1, streaming: undefined });
    expect(normaliseNode(row({ nodename: "n2", current_group_state: "secondary", assigned_group_state: "secondary" }))).toMatchObject({ role: "replica", state: "running", streaming: true });
  });

  it("a standby still catching up does not stream, and a node in transition is not running", () => {
    expect(normaliseNode(row({ current_group_state: "catchingup", assigned_group_state: "secondary" }))).toMatchObject({ role: "replica", state: "catchingup→secondary", streaming: false });
    // The monitor has decided to demote a primary that still reports primary: it is the leader still, not settled.
    expect(normaliseNode(row({ assigned_group_state: "draining" }))).toMatchObject({ role: "leader", state: "primary→draining" });
    expect(normaliseNode(row({ health: 0 }))).toMatchObject({ state: "unhealthy" });
  });
});

describe("pg_auto_failover's timings for the harness's profiles", () => {
  it("default is pg_auto_failover 2.0's own defaults; fast is faster in every failover timing", () => {
    expect(pgafTimings(getProfile("default"))).toEqual(PGAF_DEFAULTS);
    const fast = pgafTimings(getProfile("fast"));
    for (const k of ["health_check_period", "node_considered_unhealthy_timeout", "primary_demote_timeout"] as const) expect(fast.monitor[k]).toBeLessThan(PGAF_DEFAULTS.monitor[k]);
    expect(pgafTimings(getProfile("fast", { sync: true }))).toEqual(fast);
  });

  it("in every profile the monitor's demote timeout is above the keepers' network partition timeout, as pg_auto_failover asks", () => {
    for (const name of ["default", "fast"]) {
      const t = pgafTimings(getProfile(name));
      expect(t.monitor.primary_demote_timeout / 1000, name).toBeGreaterThan(t.keeper.network_partition_timeout);
    }
  });

  it("stretches scenario holds by the failover budget over the profile's ttl, never shrinks them", () => {
    const stack = new PgAutoFailoverHaStack({ version: "2.0" });
    expect(stack.effectiveProfile(getProfile("fast")).timeScale).toBeCloseTo(failoverBudgetSeconds(pgafTimings(getProfile("fast"))) / 10);
    expect(stack.effectiveProfile(getProfile("default")).timeScale).toBeGreaterThanOrEqual(1);
  });

  it("puts the monitor's timings in place with ALTER SYSTEM and a reload", () => {
    const sql = monitorSettingsSql(pgafTimings(getProfile("fast")));
    expect(sql).toContain("ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 5000;");
    expect(sql).toContain("ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 10000;");
    expect(sql.trim().endsWith("SELECT pg_reload_conf();")).toBe(true);
  });
});

describe("the synchronous replication pg_auto_failover chose", () => {
  it("is read from pg_autoctl show settings, wherever the setting sits", () => {
    const doc = {
      formation: { context: "formation", name: "default", setting: "number_sync_standbys", value: "1" },
      primary: [{ context: "primary", name: "n1", setting: "synchronous_standby_names", value: "'ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)'" }],
      nodes: [{ context: "node", name: "n1", setting: "candidate priority", value: "50" }],
    };
    expect(synchronousSettings(doc)).toEqual({ number_sync_standbys: "1", synchronous_standby_names: "'ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)'" });
    expect(() => synchronousSettings({ nodes: [] })).toThrow(/names no number_sync_standbys/);
  });
});

describe("haproxy's check where the stack has no HTTP endpoint", () => {
  it("checks each member at the address and port of its read-write check, not on the member", () => {
    const cfg = haproxyConfig({
      bind: "10.213.7.254",
      port: 5432,
      members: [{ name: "n1", address: "10.213.7.1" }, { name: "n2", address: "10.213.7.2" }],
      pidFile: "/tmp/h.pid",
      check: { port: 0, path: "/primary", at: (m) => ({ host: "10.213.7.254", port: m === "n1" ? 40001 : 40002 }) },
    });
    expect(cfg).toContain("server n1 10.213.7.1:5432 maxconn 100 check addr 10.213.7.254 port 40001 inter 500ms");
    expect(cfg).toContain("server n2 10.213.7.2:5432 maxconn 100 check addr 10.213.7.254 port 40002 inter 500ms");
    expect(cfg).toContain("option httpchk GET /primary");
  });
});

describe("PostgreSQL logs copied into the report", () => {
  it("carry no password a logged statement named", () => {
    const log = `2026-11-30 14:07:17 UTC [42] LOG:  statement: ALTER ROLE autoctl_node PASSWORD 'Se''cr3t-x';\nLOG:  checkpoint complete\nALTER USER x password  'y'`;
    const out = redactPasswords(log);
    expect(out).not.toContain("Se''cr3t-x");
    expect(out).not.toContain("'y'");
    expect(out).toContain("ALTER ROLE autoctl_node PASSWORD '<redacted>';");
    expect(out).toContain("LOG:  checkpoint complete");
  });
});
