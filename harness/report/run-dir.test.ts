import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UsageError } from "../util/errors.ts";
import { loadRun } from "./run-dir.ts";
import { writeRunDir } from "./test-run.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pgchaos-rundir-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function usageError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(UsageError);
  return (e as Error).message;
}

describe("loadRun", () => {
  it("reads every file of a complete run directory", async () => {
    const v = writeRunDir(dir);
    const run = await loadRun(dir);
    expect(run.verdict).toEqual(v);
    expect(run.meta?.scenario.name).toBe("primary-kill");
    expect(run.final?.leader).toBe("n2");
    expect(run.history.length).toBeGreaterThan(4000);
    expect(run.missing).toEqual([]);
    expect(run.files).toContain("logs/n1/patroni.log");
    expect(run.files).not.toContain("logs/n3/etcd.log");
  });

  it("names each missing file", async () => {
    writeRunDir(dir, { omit: ["final.json", "verdict.json"] });
    expect(await usageError(loadRun(dir))).toBe(`${dir} is not a complete run directory: verdict.json, final.json are missing`);
    rmSync(join(dir, "history.jsonl"));
    writeFileSync(join(dir, "verdict.json"), "{}");
    expect(await usageError(loadRun(dir, { allowMissing: true }))).toBe(`${dir} is not a complete run directory: history.jsonl is missing`);
    expect(await usageError(loadRun(join(dir, "nope")))).toContain("is not a directory");
  });

  it("tolerates a run that ended early when asked to, and says what is missing", async () => {
    writeRunDir(dir, { omit: ["final.json", "scenario.json"] });
    const run = await loadRun(dir, { allowMissing: true });
    expect(run.missing).toEqual(["scenario.json", "final.json"]);
    expect(run.final).toBeUndefined();
    expect(run.meta).toBeUndefined();
  });

  it("names the malformed file and what is wrong", async () => {
    writeRunDir(dir);
    writeFileSync(join(dir, "final.json"), "{ not json");
    expect(await usageError(loadRun(dir))).toMatch(new RegExp(`^${join(dir, "final.json")} is not valid JSON`));
    writeFileSync(join(dir, "final.json"), JSON.stringify({ leader: "n1" }));
    expect(await usageError(loadRun(dir))).toBe(`${join(dir, "final.json")} is malformed: expected an object with a "members" array`);
    writeRunDir(dir);
    writeFileSync(join(dir, "verdict.json"), JSON.stringify({ scenario: "x", profile: "fast", valid: "maybe", checks: {}, run: { writes: {}, phases: [] } }));
    expect(await usageError(loadRun(dir))).toBe(`${join(dir, "verdict.json")} is malformed: field "valid" must be true, false or "unknown"`);
    writeRunDir(dir);
    writeFileSync(join(dir, "scenario.json"), JSON.stringify({ scenario: {} }));
    expect(await usageError(loadRun(dir))).toContain(`scenario.json is malformed: expected an object with "scenario.name"`);
    writeRunDir(dir);
    writeFileSync(join(dir, "history.jsonl"), '{"index":0,"time":1,"process":"w","type":"ok","f":"write"}\n{"index":0}\n');
    expect(await usageError(loadRun(dir))).toBe(`history is malformed: ${join(dir, "history.jsonl")} line 2: field "index" must be greater than the previous index 0, got 0`);
  });
});
