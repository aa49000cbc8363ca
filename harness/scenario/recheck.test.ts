import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { finalState, history, member, range, T0 } from "../checkers/test-history.ts";
import type { Expectations, FinalState } from "../checkers/types.ts";
import type { HistoryEntry } from "../history/types.ts";
import { HistoryWriter } from "../history/writer.ts";
import { UsageError } from "../util/errors.ts";
import { recheck } from "./recheck.ts";
import type { Verdict } from "./verdict.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pgchaos-recheck-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes 1-10 on n1, the primary is killed at 1 s, writes 11-20 on n2 from 5 s. */
const killHistory = () =>
  history()
    .phase("faults", 0)
    .oks(1, 10, 0, 100, "n1")
    // n1 writable until the kill, n2 from 5 s: no overlap, so no split-brain.
    .nodeProbes("n1", "writable", 0, 1000, 100, 5, 1)
    .nodeProbes("n2", "read-only", 0, 5000, 100)
    .nodeProbes("n2", "writable", 5000, 6000, 100, 5, 2)
    .cluster(990, [
      { name: "n1", role: "leader", timeline: 1 },
      { name: "n2", role: "replica", lagBytes: 0, timeline: 1 },
    ])
    .fault("inject", 1000)
    .write(11, "info", 1100)
    .oks(12, 9, 5000, 100, "n2")
    .fault("heal", 6000)
    .build();

/** Every member holding `ids` on timeline 2, n2 leading. */
const finalWith = (ids: number[]): FinalState =>
  finalState("n2", [member("n1", "replica", ids, 2), member("n2", "leader", ids, 2), member("n3", "replica", ids, 2)]);

const expectations: Expectations = { maxWriteUnavailableMs: 30_000, lostWrites: 0, divergence: false };

function writeRun(h: HistoryEntry[], final: FinalState | undefined, previous?: Partial<Verdict>) {
  const w = HistoryWriter.open(join(dir, "history.jsonl"));
  for (const { index: _index, ...e } of h) w.record(e);
  w.close();
  if (final) writeFileSync(join(dir, "final.json"), JSON.stringify(final));
  writeFileSync(
    join(dir, "scenario.json"),
    JSON.stringify({
      scenario: { name: "primary-kill", description: "d" },
      platform: "local",
      profile: { name: "fast" },
      expectations,
      settings: { ttl: 10 },
      runId: "abc123",
      startedAt: new Date(T0).toISOString(),
    }),
  );
  if (previous) writeFileSync(join(dir, "verdict.json"), JSON.stringify(previous));
}

const stored = () => JSON.parse(readFileSync(join(dir, "verdict.json"), "utf8")) as Verdict;

describe("recheck", () => {
  it("a clean run is valid, and verdict.json is written from the directory alone", async () => {
    writeRun(killHistory(), finalWith(range(1, 20)));
    const { verdict, runDir } = await recheck(dir);
    expect(runDir).toBe(dir);
    expect(verdict.valid).toBe(true);
    expect(verdict).toMatchObject({
      scenario: "primary-kill",
      platform: "local",
      profile: "fast",
      runId: "abc123",
      startedAt: new Date(T0).toISOString(),
      expectations,
      settings: { ttl: 10 },
    });
    expect(Object.keys(verdict.checks).sort()).toEqual(["dataLoss", "divergence", "failover", "lag", "splitBrain"]);
    expect(verdict.checks.splitBrain).toMatchObject({ valid: true });
    expect(verdict.checks.dataLoss).toMatchObject({ valid: true, lost: 0, acknowledged: 19, indeterminate: 1 });
    expect(verdict.checks.failover).toMatchObject({ valid: true, oldPrimary: "n1", newPrimary: "n2", writeUnavailableMs: 4100 });
    expect(verdict.run.writes).toMatchObject({ attempts: 20, ok: 19, fail: 0, info: 1 });
    expect(verdict.run.phases).toEqual([]);
    expect(stored()).toEqual(JSON.parse(JSON.stringify(verdict)));
  });

  it("a lost acknowledged write makes the run invalid", async () => {
    writeRun(killHistory(), finalWith(range(1, 20).filter((id) => id !== 5)));
    const { verdict } = await recheck(dir);
    expect(verdict.valid).toBe(false);
    expect(verdict.checks.dataLoss).toMatchObject({ valid: false, lost: 1, lostIds: [5] });
    expect(verdict.checks.dataLoss!.reasons).toEqual([expect.stringMatching(/1 acknowledged writes lost \(allowed 0\)/)]);
    expect(stored().valid).toBe(false);
  });

  it("replaces a stale verdict: checks and write figures are recomputed, run phases kept", async () => {
    writeRun(killHistory(), finalWith(range(1, 20).filter((id) => id !== 5)), {
      valid: true,
      checks: { dataLoss: { valid: true, lost: 0 } },
      run: {
        phases: [{ name: "deploy", ms: 1234 }],
        readyMs: 1234,
        writes: { attempts: 999, ok: 999, fail: 0, info: 0, ratePerSec: 1 },
      },
    });
    const { verdict } = await recheck(dir);
    expect(verdict.valid).toBe(false);
    expect(verdict.checks.dataLoss!.lost).toBe(1);
    expect(verdict.run.phases).toEqual([{ name: "deploy", ms: 1234 }]);
    expect(verdict.run.readyMs).toBe(1234);
    expect(verdict.run.writes.attempts).toBe(20);
  });

  it("keeps a previous failed recovery check, which makes a clean history invalid", async () => {
    const recovery = { valid: false, reasons: ["the cluster was not whole within 120000 ms of the last heal"] };
    writeRun(killHistory(), finalWith(range(1, 20)), {
      valid: false,
      checks: { recovery },
      run: { phases: [], recovered: false, writes: { attempts: 0, ok: 0, fail: 0, info: 0, ratePerSec: 0 } },
    });
    const { verdict } = await recheck(dir);
    expect(verdict.checks.recovery).toEqual(recovery);
    expect(verdict.checks.dataLoss!.valid).toBe(true);
    expect(verdict.checks.failover!.valid).toBe(true);
    expect(verdict.valid).toBe(false);
    expect(stored().checks.recovery).toEqual(recovery);
  });

  it("keeps a previous passed recovery check", async () => {
    writeRun(killHistory(), finalWith(range(1, 20)), {
      checks: { recovery: { valid: true, recoveryMs: 4000 } },
      run: { phases: [], recovered: true, recoveryMs: 4000, writes: { attempts: 0, ok: 0, fail: 0, info: 0, ratePerSec: 0 } },
    });
    const { verdict } = await recheck(dir);
    expect(verdict.checks.recovery).toEqual({ valid: true, recoveryMs: 4000 });
    expect(verdict.valid).toBe(true);
  });

  it.each(["final.json", "history.jsonl", "scenario.json"])("a missing %s is a UsageError naming the file, and writes nothing", async (missing) => {
    writeRun(killHistory(), finalWith(range(1, 20)));
    rmSync(join(dir, missing));
    const e = await recheck(dir).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toContain(dir);
    expect((e as Error).message).toContain(`${missing} is missing`);
    expect(existsSync(join(dir, "verdict.json"))).toBe(false);
  });
});
