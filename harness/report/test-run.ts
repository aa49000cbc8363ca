/** Test-only: a realistic stored run directory (no cluster), for the report writers and the browser test. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { combineValidity } from "../checkers/index.ts";
import { finalState, history, member, T0 } from "../checkers/test-history.ts";
import type { Expectations } from "../checkers/types.ts";
import type { HistoryEntry } from "../history/types.ts";
import { HistoryWriter } from "../history/writer.ts";
import { check, writeFigures, type Verdict } from "../scenario/verdict.ts";

/** An error text a report must show as text, never as markup. */
export const NASTY = `<script>alert("x")</script> & 'quoted' ]]> \u0007`;

/**
 * primary-kill, profile fast, 24 s of probes: n1 serves writes 1-300 on timeline 1; the primary n1 is killed
 * at 3 s; writes fail (a few with unknown outcome) until n2 is promoted at 12 s; n2 serves the rest on
 * timeline 2; n1 is healed at 18 s and rejoins read-only. Node probes every 200 ms per node.
 */
export function primaryKillHistory(): HistoryEntry[] {
  const h = history().phase("warm-up", 0).phase("fault: kill primary", 2990).phase("recovery", 18_010).phase("cool-down", 21_000).phase("final read", 24_000);
  let id = 1;
  for (let t = 0; t < 3000; t += 10) h.write(id++, "ok", t, "n1", 1);
  h.add({
    at: 2500,
    process: "runner",
    type: "info",
    f: "cluster",
    value: { members: [{ name: "n1", role: "leader", timeline: 1 }, { name: "n2", role: "replica", lagBytes: 0, timeline: 1 }, { name: "n3", role: "replica", lagBytes: 0, timeline: 1 }] },
  });
  h.fault("inject", 3000, "kill", ["n1"]);
  for (let t = 3000; t < 12_000; t += 10) {
    const outcome = t < 3040 ? "info" : "fail";
    h.write(id++, outcome, t);
  }
  h.add({ at: 7000, process: "writer", type: "invoke", f: "write", value: id });
  h.add({ at: 7001, process: "writer", type: "fail", f: "write", value: id++, error: NASTY });
  for (let t = 12_000; t < 24_000; t += 10) h.write(id++, "ok", t, "n2", 2);
  h.fault("heal", 18_000, "kill", ["n1"]);
  for (let t = 100; t < 24_000; t += 200) {
    h.probe("n1", t < 3000 ? "writable" : t < 19_000 ? "fail" : "read-only", t);
    h.probe("n2", t < 11_900 ? "read-only" : "writable", t + 20);
    h.probe("n3", "read-only", t + 40);
  }
  return h.build();
}

export const EXPECTATIONS: Expectations = { maxWriteUnavailableMs: 30_000, lostWrites: 0, divergence: false };

/** Writes a complete run directory into `dir`; returns its verdict. `omit` leaves files out. */
export function writeRunDir(dir: string, opts: { omit?: string[]; history?: HistoryEntry[] } = {}): Verdict {
  const omit = new Set(opts.omit ?? []);
  mkdirSync(dir, { recursive: true });
  const h = opts.history ?? primaryKillHistory();
  const w = HistoryWriter.open(join(dir, "history.jsonl"));
  for (const { index: _index, ...e } of h) w.record(e);
  w.close();

  const acked = h.filter((e) => e.f === "write" && e.type === "ok").map((e) => e.value as number);
  const final = finalState("n2", [member("n1", "replica", acked, 2), member("n2", "leader", acked, 2), member("n3", "replica", acked, 2)]);
  if (!omit.has("final.json")) writeFileSync(join(dir, "final.json"), JSON.stringify(final));
  const settings = {
    profile: "fast",
    ttl: 10,
    loop_wait: 1,
    retry_timeout: 4,
    synchronous_mode: false,
    postgresql: { wal_sender_timeout: "10s", wal_receiver_timeout: "10s" },
    nodes: 3,
    dcs: "etcd3",
    note: "<b>not bold</b>",
  };
  if (!omit.has("scenario.json")) {
    writeFileSync(
      join(dir, "scenario.json"),
      JSON.stringify({
        scenario: { name: "primary-kill", description: "SIGKILL of the primary <Patroni & PostgreSQL>", nodes: 3 },
        profile: { name: "fast", description: "Aggressive failover: ttl 10, loop_wait 1" },
        expectations: EXPECTATIONS,
        settings,
        platform: "local",
        runId: "abc123",
        startedAt: new Date(T0).toISOString(),
      }),
    );
  }
  const checked = check(h, final, EXPECTATIONS);
  const checks = { ...checked.checks, recovery: { valid: true as const, recoveryMs: 3000 } };
  const verdict: Verdict = {
    scenario: "primary-kill",
    platform: "local",
    profile: "fast",
    runId: "abc123",
    startedAt: new Date(T0).toISOString(),
    valid: combineValidity(checked.valid, true),
    expectations: EXPECTATIONS,
    checks,
    settings,
    run: {
      phases: [
        { name: "deploy", ms: 7000 },
        { name: "warm-up", ms: 3000 },
        { name: "fault: kill primary", ms: 15_000 },
        { name: "recovery", ms: 3000 },
        { name: "cool-down", ms: 3000 },
        { name: "teardown", ms: 600 },
      ],
      readyMs: 7000,
      teardownMs: 600,
      recovered: true,
      recoveryMs: 3000,
      writes: writeFigures(h),
    },
  };
  if (!omit.has("verdict.json")) writeFileSync(join(dir, "verdict.json"), JSON.stringify(verdict, null, 2));
  for (const node of ["n1", "n2", "n3"]) {
    mkdirSync(join(dir, "logs", node), { recursive: true });
    for (const f of ["patroni.log", "postgresql.log", "etcd.log", "patroni.yml"]) {
      if (!(node === "n3" && f === "etcd.log")) writeFileSync(join(dir, "logs", node, f), `${node} ${f}\n`);
    }
  }
  writeFileSync(join(dir, "logs", "haproxy.log"), "haproxy\n");
  return verdict;
}

