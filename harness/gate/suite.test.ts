import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
// Static imports, so `tsc --noEmit` type-checks the suite files (suites/ is outside tsconfig's include).
import full from "../../suites/full.ts";
import smoke from "../../suites/smoke.ts";
import stacks from "../../suites/stacks.ts";
import leaderKey from "../../suites/leader-key.ts";
import { listScenarios } from "../scenario/loader.ts";
import { UsageError } from "../util/errors.ts";
import { BaselineSchema, DEFAULT_TOLERANCE, marginFor, parseBaseline, readBaseline } from "./baseline.ts";
import { SUITE_DIR, entryKey, listSuites, loadSuite, splitProfile } from "./suite.ts";

const ROOT = resolve(import.meta.dirname, "../..");

describe("suites", () => {
  it("smoke: primary-kill and switchover, fast profile, 3 runs each", async () => {
    expect(await loadSuite("smoke")).toEqual(smoke);
    expect(smoke.entries).toEqual([
      { scenario: "primary-kill", profiles: ["fast"], repeat: 3 },
      { scenario: "switchover", profiles: ["fast"], repeat: 3 },
    ]);
  });

  it("full: every scenario file, both profiles, 3 runs each", async () => {
    expect(await loadSuite("full")).toEqual(full);
    expect(full.entries.map((e) => e.scenario)).toEqual(listScenarios());
    expect(full.entries.every((e) => e.repeat === 3 && e.profiles.join() === "fast,default")).toBe(true);
  });

  it("stacks and leader-key name scenarios that exist (the comparison and the leader-key re-measure)", async () => {
    for (const s of [stacks, leaderKey]) {
      expect(await loadSuite(s.name)).toEqual(s);
      for (const e of s.entries) expect(listScenarios()).toContain(e.scenario);
    }
    expect(stacks.entries).toHaveLength(8);
  });

  it("lists the suites there are", () => {
    expect(listSuites()).toEqual(expect.arrayContaining(["full", "smoke"]));
    expect(SUITE_DIR).toBe(join(ROOT, "suites"));
  });

  it("profiles may carry +sync", () => {
    expect(splitProfile("fast")).toEqual({ profile: "fast", sync: false });
    expect(splitProfile("default+sync")).toEqual({ profile: "default", sync: true });
    expect(() => splitProfile("turbo")).toThrow(UsageError);
    expect(() => splitProfile("fast+async")).toThrow('unknown profile "fast+async"');
    expect(entryKey("switchover", "fast+sync")).toBe("switchover/fast+sync");
  });
});

describe("loadSuite errors", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pgchaos-suites-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("names what is wrong", async () => {
    await expect(loadSuite("../etc", dir)).rejects.toThrow('unknown suite "../etc"');
    writeFileSync(join(dir, "bad.ts"), `export default { name: "bad", description: "x", entries: [{ scenario: "s", profiles: [], repeat: 0 }] };`);
    await expect(loadSuite("bad", dir)).rejects.toThrow(/suite .*bad\.ts is malformed:\n {2}- entries\.0\.profiles: .*\n {2}- entries\.0\.repeat/);
    writeFileSync(join(dir, "other.ts"), `export default { name: "else", description: "x", entries: [{ scenario: "s", profiles: ["fast"], repeat: 1 }] };`);
    await expect(loadSuite("other", dir)).rejects.toThrow('is named "else": the name must match the file name "other"');
    writeFileSync(join(dir, "prof.ts"), `export default { name: "prof", description: "x", entries: [{ scenario: "s", profiles: ["slow"], repeat: 1 }] };`);
    await expect(loadSuite("prof", dir)).rejects.toThrow('unknown profile "slow"');
  });
});

describe("baseline", () => {
  it("the shipped smoke baseline is valid, states its tolerance and covers every smoke key", () => {
    const b = readBaseline(join(ROOT, "suites", "smoke.baseline.json"));
    expect(b.tolerance.relative).toBeGreaterThan(0);
    expect(b.tolerance.absoluteMs).toBeGreaterThan(0);
    for (const e of smoke.entries) for (const p of e.profiles) expect(Object.keys(b.scenarios)).toContain(entryKey(e.scenario, p));
  });

  it("a file without a tolerance, or with a bad key, is rejected with the field named", () => {
    expect(() => parseBaseline({ scenarios: {} }, "b.json")).toThrow(/baseline b\.json is malformed:\n {2}- tolerance: /);
    expect(() => parseBaseline({ tolerance: DEFAULT_TOLERANCE, scenarios: { "no-slash": {} } }, "b.json")).toThrow('scenarios.no-slash: the key must be "<scenario>/<profile>"');
    expect(() => parseBaseline({ tolerance: DEFAULT_TOLERANCE, scenarios: { "a/fast": { x: { median: "1" } } } }, "b.json")).toThrow("scenarios.a/fast.x.median");
    expect(BaselineSchema.safeParse({ tolerance: DEFAULT_TOLERANCE, scenarios: { "a/fast+sync": { x: { median: 1, p95: 2 } } } }).success).toBe(true);
  });

  it("readBaseline names a missing or unparsable file", () => {
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-baseline-"));
    try {
      expect(() => readBaseline(join(dir, "none.json"))).toThrow(`baseline file ${join(dir, "none.json")} does not exist`);
      writeFileSync(join(dir, "b.json"), "{");
      expect(() => readBaseline(join(dir, "b.json"))).toThrow(`baseline ${join(dir, "b.json")} is not valid JSON`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the margin is the larger of the relative and absolute allowances", () => {
    const t = { relative: 0.5, absoluteMs: 2000, absolute: 1, figures: { recoveryMs: { absoluteMs: 5000 } } };
    expect(marginFor(t, "writeUnavailableMs", 10_000).margin).toBe(5000);
    expect(marginFor(t, "writeUnavailableMs", 1000).margin).toBe(2000);
    expect(marginFor(t, "recoveryMs", 1000).margin).toBe(5000);
    expect(marginFor(t, "lostWrites", 0).margin).toBe(1);
  });
});

describe("gate CLI", () => {
  const gate = (args: string[]) => execa("node", ["--import", "tsx", "harness/gate/cli.ts", ...args], { cwd: ROOT, reject: false, timeout: 60_000 });

  it("--help exits 0 with the usage; an unknown suite exits 2 before anything runs", async () => {
    const help = await gate(["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("npm run gate -- [--suite NAME]");
    // Two guards: the suite does not exist, and neither does the baseline.
    const bad = await gate(["--suite", "no-such-suite", "--baseline", "/nonexistent/baseline.json"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('pgchaos gate: unknown suite "no-such-suite": available suites are full, ha-stacks, leader-key, smoke, stacks');
  }, 60_000);

  it("package.json runs it as `npm run gate`", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.gate).toBe("node --import tsx harness/gate/cli.ts");
  });
});
