import { describe, expect, it } from "vitest";
import { resolveTarget } from "../../faults/targets.ts";
import { lockHolder, membersFromPods, normalizeRoleLabel, primaryLabelled, type PodView } from "./targets.ts";

const NOW = Date.parse("2026-11-22T18:00:00Z");

function pod(name: string, ip: string, opts: { role?: string; roleLabel?: string; status?: Record<string, unknown>; phase?: string; deleting?: boolean; waiting?: boolean } = {}): PodView {
  return {
    metadata: {
      name,
      labels: { application: "pgchaos", "cluster-name": "pg", ...(opts.role ? { [opts.roleLabel ?? "role"]: opts.role } : {}) },
      annotations: opts.status ? { status: JSON.stringify(opts.status) } : {},
      ...(opts.deleting ? { deletionTimestamp: "2026-11-22T17:59:59Z" } : {}),
    },
    status: {
      phase: opts.phase ?? "Running",
      podIP: ip,
      containerStatuses: [{ ready: true, state: opts.waiting ? { waiting: {} } : { running: {} } }],
    },
  };
}

const primaryStatus = { state: "running", role: "primary", timeline: 3, xlog_location: 50_331_648 };
const replicaStatus = (xlog: number, replication_state = "streaming") => ({ state: "running", role: "replica", timeline: 3, xlog_location: xlog, replication_state });
const lock = (leader: string, renewTime = "2026-11-22T17:59:58Z", ttl = "10") => ({ leader, renewTime, ttl, acquireTime: "2026-11-22T17:00:00Z", transitions: "2", optime: "50331648" });

const healthy = [
  pod("pg-1", "10.244.2.7", { role: "replica", status: replicaStatus(50_331_000) }),
  pod("pg-0", "10.244.1.5", { role: "primary", status: primaryStatus }),
  pod("pg-2", "10.244.3.9", { role: "replica", status: replicaStatus(50_331_648) }),
];

describe("members from pods (Patroni 4 labels, ConfigMap DCS)", () => {
  it("gives the /cluster shape: leader from the lock, replicas streaming, lag against the leader's optime, pod IPs", () => {
    expect(membersFromPods({ pods: healthy, leaderAnnotations: lock("pg-0"), now: NOW })).toEqual([
      { name: "pg-0", host: "10.244.1.5", role: "leader", state: "running", timeline: 3, lagBytes: undefined, streaming: undefined },
      { name: "pg-1", host: "10.244.2.7", role: "replica", state: "running", timeline: 3, lagBytes: 648, streaming: true },
      { name: "pg-2", host: "10.244.3.9", role: "replica", state: "running", timeline: 3, lagBytes: 0, streaming: true },
    ]);
  });

  it("leaves streaming unknown under Patroni 3.x, whose status annotation has no replication_state, and labels master", () => {
    const v3 = { state: "running", role: "replica", timeline: 3, xlog_location: 50_331_000 };
    const pods = [pod("pg-0", "10.244.1.5", { role: "master", status: { ...primaryStatus, role: "master" } }), pod("pg-1", "10.244.2.7", { role: "replica", status: v3 })];
    const members = membersFromPods({ pods, leaderAnnotations: lock("pg-0"), now: NOW });
    expect(members.map((m) => [m.name, m.role, m.streaming])).toEqual([
      ["pg-0", "leader", undefined],
      ["pg-1", "replica", undefined],
    ]);
    expect(primaryLabelled(pods)).toEqual(["pg-0"]);
    // A replica that is not running is not streaming, whatever the version.
    const stopped = [pods[0]!, pod("pg-1", "10.244.2.7", { role: "replica", status: v3, waiting: true })];
    expect(membersFromPods({ pods: stopped, leaderAnnotations: lock("pg-0"), now: NOW })[1]!.streaming).toBe(false);
  });

  it("makes faults/targets.ts resolveTarget work unchanged", () => {
    const members = membersFromPods({ pods: healthy, leaderAnnotations: lock("pg-0"), syncAnnotations: { leader: "pg-0", sync_standby: "pg-2" }, now: NOW });
    expect(resolveTarget("primary", { members })).toEqual(["pg-0"]);
    expect(resolveTarget("sync-standby", { members })).toEqual(["pg-2"]);
    expect(resolveTarget("replica", { members }, () => 0)).toEqual(["pg-1"]);
    expect(resolveTarget("pg-1", { members })).toEqual(["pg-1"]);
    expect(resolveTarget("all", { members })).toEqual(["pg-0", "pg-1", "pg-2"]);
    expect(resolveTarget("majority", { members }, () => 0)).toHaveLength(2);
    expect(() => resolveTarget("dcs-leader", { members })).toThrow(/the DCS leader is unknown/);
  });

  it("ignores a sync state written by another leader", () => {
    const members = membersFromPods({ pods: healthy, leaderAnnotations: lock("pg-0"), syncAnnotations: { leader: "pg-1", sync_standby: "pg-2" }, now: NOW });
    expect(members.map((m) => m.role)).toEqual(["leader", "replica", "replica"]);
  });

  it("has no leader when the lock expired, even if a pod still carries the primary label", () => {
    const members = membersFromPods({ pods: healthy, leaderAnnotations: lock("pg-0", "2026-11-22T17:59:40Z", "10"), now: NOW });
    expect(members.filter((m) => m.role === "leader")).toEqual([]);
    expect(() => resolveTarget("primary", { members })).toThrow(/there is no leader/);
    expect(lockHolder(lock("pg-0", "2026-11-22T17:59:40Z", "10"), NOW)).toBeUndefined();
    expect(lockHolder(lock("pg-0"), NOW)).toBe("pg-0");
    expect(lockHolder({}, NOW)).toBeUndefined();
  });

  it("reports a partitioned old primary that keeps its label as a replica, and says who carries the label", () => {
    const pods = [
      pod("pg-0", "10.244.1.5", { role: "primary", status: primaryStatus }),
      pod("pg-1", "10.244.2.7", { role: "primary", status: { ...primaryStatus, timeline: 4 } }),
      pod("pg-2", "10.244.3.9", { role: "replica", status: replicaStatus(50_331_648, "in archive recovery") }),
    ];
    const members = membersFromPods({ pods, leaderAnnotations: lock("pg-1"), now: NOW });
    expect(members.map((m) => [m.name, m.role, m.streaming])).toEqual([
      ["pg-0", "replica", false],
      ["pg-1", "leader", undefined],
      ["pg-2", "replica", false],
    ]);
    expect(primaryLabelled(pods)).toEqual(["pg-0", "pg-1"]);
  });

  it("falls back to the labels when the leader ConfigMap cannot be read, Spilo's and Patroni 3's included", () => {
    const spilo = [
      pod("pg-0", "10.244.1.5", { role: "master", roleLabel: "spilo-role", status: primaryStatus }),
      pod("pg-1", "10.244.2.7", { role: "replica", roleLabel: "spilo-role", status: replicaStatus(1) }),
    ];
    expect(membersFromPods({ pods: spilo, now: NOW }).map((m) => m.role)).toEqual(["leader", "replica"]);
    // Two pods labelled primary and no lock to decide: nobody is the leader.
    const two = [pod("pg-0", "a", { role: "primary" }), pod("pg-1", "b", { role: "primary" })];
    expect(membersFromPods({ pods: two, now: NOW }).map((m) => m.role)).toEqual(["replica", "replica"]);
  });

  it("says starting, stopping or stopped for pods that do not run Patroni, and unknown without any role", () => {
    const pods = [
      pod("pg-0", "10.244.1.5", { role: "primary", status: primaryStatus }),
      pod("pg-1", "", { phase: "Pending" }),
      pod("pg-2", "10.244.3.9", { role: "replica", status: replicaStatus(5), deleting: true }),
      pod("pg-3", "10.244.4.2", { waiting: true }),
    ];
    expect(membersFromPods({ pods, leaderAnnotations: lock("pg-0"), now: NOW }).map((m) => [m.name, m.role, m.state, m.streaming])).toEqual([
      ["pg-0", "leader", "running", undefined],
      ["pg-1", "unknown", "starting", false],
      ["pg-2", "replica", "stopping", false],
      ["pg-3", "unknown", "starting", false],
    ]);
  });

  it("survives an annotation that is not JSON and orders pods by ordinal", () => {
    const bad: PodView = { metadata: { name: "pg-10", labels: { role: "replica" }, annotations: { status: "{not json" } }, status: { phase: "Running", podIP: "x" } };
    const ms = membersFromPods({ pods: [bad, ...healthy], leaderAnnotations: lock("pg-0"), now: NOW });
    expect(ms.map((m) => m.name)).toEqual(["pg-0", "pg-1", "pg-2", "pg-10"]);
    expect(ms[3]).toMatchObject({ role: "replica", state: "starting", streaming: false, timeline: undefined });
  });

  it("normalizes every label vocabulary", () => {
    expect(["primary", "master", "replica", "standby-leader", "standby_leader", "demoted", undefined].map(normalizeRoleLabel)).toEqual([
      "leader", "leader", "replica", "standby_leader", "standby_leader", undefined, undefined,
    ]);
  });
});
