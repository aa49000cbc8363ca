import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLValidator } from "fast-xml-parser";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { writeRunDir } from "../report/test-run.ts";
import { loadScenario } from "../scenario/loader.ts";
import type { RunOptions, RunResult } from "../scenario/runner.ts";
import { EnvironmentError } from "../util/errors.ts";
import { usageError } from "../testing/usage-error.ts";
import type { Baseline } from "./baseline.ts";
import { runGate, type GateDeps } from "./gate.ts";

let dir: string;
let suiteDir: string;
let out: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pgchaos-gate-"));
  suiteDir = join(dir, "suites");
  out = join(dir, "out");
  mkdirSync(suiteDir);
  writeFileSync(
    join(suiteDir, "tiny.ts"),
    `export default { name: "tiny", description: "two scenarios", entries: [
       { scenario: "primary-kill", profiles: ["fast"], repeat: 2 },
       { scenario: "switchover", profiles: ["fast+sync"], repeat: 1 },
     ] };\n`,
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A baseline for tiny whose medians are `ms` for both keys. */
function baselineFile(ms: number, keys = ["primary-kill/fast", "switchover/fast+sync"]): string {
  const b: Baseline = {
    tolerance: { relative: 0.5, absoluteMs: 2000 },
    scenarios: Object.fromEntries(keys.map((k) => [k, { writeUnavailableMs: { median: ms, p95: ms } }])),
  };
  const f = join(suiteDir, "tiny.baseline.json");
  writeFileSync(f, JSON.stringify(b));
  return f;
}

/** A fake runner: each call writes a realistic run directory (writeUnavailable ≈ 9 s) and returns its verdict. */
function fakeRunner(impl?: (opts: RunOptions, n: number) => RunResult | Promise<RunResult>) {
  let n = 0;
  return vi.fn(async (opts: RunOptions): Promise<RunResult> => {
    n++;
    if (impl) return impl(opts, n);
    const runDir = join(opts.outDir, opts.scenario.name, `run-${n}`);
    const verdict = writeRunDir(runDir);
    verdict.scenario = opts.scenario.name;
    verdict.profile = opts.sync ? `${opts.profile}+sync` : opts.profile!;
    return { runDir, verdict };
  });
}

function deps(runScenario: GateDeps["runScenario"], env: NodeJS.ProcessEnv = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const d: GateDeps = {
    runScenario,
    loadScenario: (name) => loadScenario(name),
    suiteDir,
    root: dir,
    stdout: { write: (s: string) => stdout.push(s) },
    stderr: { isTTY: false, write: (s: string) => (stderr.push(s), true) } as unknown as NodeJS.WriteStream,
    env,
    now: () => new Date("2026-03-04T05:06:07.000Z"),
  };
  return { d, out: () => stdout.join(""), err: () => stderr.join("") };
}

const signal = new AbortController().signal;

describe("runGate: usage errors come before any run", () => {
  it("--help prints the usage", async () => {
    const run = fakeRunner();
    const x = deps(run);
    expect(await runGate(["--help"], x.d, signal)).toBe(0);
    expect(x.out()).toContain("npm run gate -- [--suite NAME]");
    expect(run).not.toHaveBeenCalled();
  });

  it("an unknown suite names the suites there are", async () => {
    const run = fakeRunner();
    const e = await usageError(runGate(["--suite", "nope"], deps(run).d, signal));
    expect(e.message).toContain('unknown suite "nope": available suites are tiny');
    expect(run).not.toHaveBeenCalled();
  });

  it("an unknown option is a usage error", async () => {
    const e = await usageError(runGate(["--suite", "tiny", "--bogus"], deps(fakeRunner()).d, signal));
    expect(e.message).toContain("--bogus");
  });

  it("a missing baseline file says how to record one", async () => {
    const run = fakeRunner();
    const e = await usageError(runGate(["--suite", "tiny"], deps(run).d, signal));
    expect(e.message).toContain(`baseline file ${join(suiteDir, "tiny.baseline.json")} does not exist`);
    expect(e.message).toContain("npm run gate -- --suite tiny --update-baseline");
    const e2 = await usageError(runGate(["--suite", "tiny", "--baseline", join(dir, "none.json")], deps(run).d, signal));
    expect(e2.message).toContain(`baseline file ${join(dir, "none.json")} does not exist`);
    expect(run).not.toHaveBeenCalled();
  });

  it("a baseline without an entry for a suite key names the key", async () => {
    baselineFile(9000, ["primary-kill/fast"]);
    const run = fakeRunner();
    const e = await usageError(runGate(["--suite", "tiny"], deps(run).d, signal));
    expect(e.message).toContain("has no entry for switchover/fast+sync. Nothing was run.");
    expect(run).not.toHaveBeenCalled();
  });

  it("a malformed baseline names the field", async () => {
    writeFileSync(join(suiteDir, "tiny.baseline.json"), JSON.stringify({ scenarios: {} }));
    const e = await usageError(runGate(["--suite", "tiny"], deps(fakeRunner()).d, signal));
    expect(e.message).toMatch(/baseline .*tiny\.baseline\.json is malformed:\n {2}- tolerance/);
  });
});

describe("runGate: running a suite", () => {
  it("passes, runs each (scenario, profile) its repeat times, writes every report and the step summary", async () => {
    baselineFile(9000);
    const run = fakeRunner();
    const summary = join(dir, "step-summary.md");
    const x = deps(run, { GITHUB_STEP_SUMMARY: summary });
    expect(await runGate(["--suite", "tiny", "--out", out, "--quiet"], x.d, signal)).toBe(0);

    expect(run).toHaveBeenCalledTimes(3);
    expect(run.mock.calls.map(([o]) => [o.scenario.name, o.profile, o.sync, o.outDir])).toEqual([
      ["primary-kill", "fast", false, out],
      ["primary-kill", "fast", false, out],
      ["switchover", "fast", true, out],
    ]);
    expect(x.out()).toContain("gate tiny: PASS");
    expect(x.out()).toMatch(/primary-kill\/fast\s+PASS\s+2 run\(s\)/);

    for (const f of ["gate-report.md", "gate-report.html", "junit.xml", "primary-kill/repeat-fast.json", "primary-kill/repeat-fast.html", "switchover/repeat-fast+sync.json"]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const junit = readFileSync(join(out, "junit.xml"), "utf8");
    expect(XMLValidator.validate(junit)).toBe(true);
    expect(junit).toContain('<testsuite name="gate tiny"');
    expect(readFileSync(summary, "utf8")).toContain("### pgchaos gate `tiny`: ✅ PASS");
    const html = readFileSync(join(out, "gate-report.html"), "utf8");
    expect(html).toContain('href="primary-kill/run-1/report.html"');
    expect(html).toContain('href="switchover/repeat-fast%2Bsync.html"');
    const repeat = JSON.parse(readFileSync(join(out, "primary-kill/repeat-fast.json"), "utf8"));
    expect(repeat).toMatchObject({ scenario: "primary-kill", profile: "fast", figures: { writeUnavailableMs: { n: 2, median: 9010 } } });
  });

  it("fails with exit 1 and says which figure regressed, by how much, against which baseline", async () => {
    baselineFile(4000); // the runs take 9.01 s: limit 6 s
    const x = deps(fakeRunner());
    expect(await runGate(["--suite", "tiny", "--out", out, "--quiet"], x.d, signal)).toBe(1);
    expect(x.out()).toContain("gate tiny: FAIL");
    expect(x.out()).toContain(
      "primary-kill/fast writeUnavailableMs median regressed: 9.01 s against the baseline 4.00 s (+5.01 s, +125.3%); the tolerance 50% or 2.00 s, whichever is larger, allows up to 6.00 s",
    );
    expect(readFileSync(join(out, "gate-report.md"), "utf8")).toContain("❌ regressed");
    expect(readFileSync(join(out, "junit.xml"), "utf8")).toContain('type="regressed"');
  });

  it("a run that fails is recorded and fails the gate; the other runs still go on", async () => {
    baselineFile(9000);
    const run = fakeRunner((opts, n) => {
      const runDir = join(opts.outDir, opts.scenario.name, `run-${n}`);
      const verdict = writeRunDir(runDir);
      if (n === 1) throw Object.assign(new Error("teardown failed: device busy"), { runDir, verdict: { ...verdict, valid: "unknown", run: { ...verdict.run, error: "teardown failed: device busy" } } });
      verdict.profile = opts.sync ? "fast+sync" : "fast";
      return { runDir, verdict };
    });
    const x = deps(run);
    expect(await runGate(["--suite", "tiny", "--out", out, "--quiet"], x.d, signal)).toBe(1);
    expect(run).toHaveBeenCalledTimes(3);
    expect(x.err()).toContain("gate: primary-kill/fast run 1 failed: teardown failed: device busy");
    expect(x.out()).toContain("✗ run (run 1): run failed: teardown failed: device busy");
  });

  it("an environment error (not root, packages missing) stops the gate at once", async () => {
    baselineFile(9000);
    const run = fakeRunner(() => {
      throw new EnvironmentError("the local platform creates network namespaces, which needs root");
    });
    await expect(runGate(["--suite", "tiny", "--out", out, "--quiet"], deps(run).d, signal)).rejects.toBeInstanceOf(EnvironmentError);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it("an interrupt stops the gate at once", async () => {
    baselineFile(9000);
    const abort = new AbortController();
    const run = fakeRunner(() => {
      abort.abort();
      throw new Error("interrupted by SIGINT");
    });
    await expect(runGate(["--suite", "tiny", "--out", out, "--quiet"], deps(run).d, abort.signal)).rejects.toThrow("interrupted by SIGINT");
    expect(run).toHaveBeenCalledTimes(1);
  });

  it("a scenario that declares synchronous mode keeps it, and its key says so", async () => {
    baselineFile(9000, ["primary-kill/fast+sync", "switchover/fast+sync"]);
    const run = fakeRunner();
    const x = deps(run);
    x.d.loadScenario = async (name) => ({ ...(await loadScenario(name)), sync: name === "primary-kill" });
    expect(await runGate(["--suite", "tiny", "--out", out, "--quiet"], x.d, signal)).toBe(0);
    expect(run.mock.calls.map(([o]) => [o.scenario.name, o.profile, o.sync])).toEqual([
      ["primary-kill", "fast", true],
      ["primary-kill", "fast", true],
      ["switchover", "fast", true],
    ]);
    expect(x.out()).toContain("primary-kill/fast+sync");
  });

  it("--update-baseline records a missing file's entries with the default tolerance", async () => {
    const x = deps(fakeRunner());
    expect(await runGate(["--suite", "tiny", "--out", out, "--quiet", "--update-baseline"], x.d, signal)).toBe(0);
    const b = JSON.parse(readFileSync(join(suiteDir, "tiny.baseline.json"), "utf8")) as Baseline;
    expect(b.tolerance).toEqual({ relative: 0.5, absoluteMs: 2000 });
    expect(Object.keys(b.scenarios)).toEqual(["primary-kill/fast", "switchover/fast+sync"]);
    expect(b.scenarios["primary-kill/fast"]).toEqual({
      writeUnavailableMs: { median: 9010, p95: 9010 },
      timeToNewPrimaryMs: { median: 8920, p95: 8920 },
      recoveryMs: { median: 3000, p95: 3000 },
    });
    expect(b.sources!["primary-kill/fast"]).toEqual({ runs: 2, updatedAt: "2026-03-04T05:06:07.000Z" });
    expect(x.out()).toContain("updated primary-kill/fast, switchover/fast+sync");
    // And the recorded baseline then passes.
    expect(await runGate(["--suite", "tiny", "--out", join(dir, "out2"), "--quiet"], deps(fakeRunner()).d, signal)).toBe(0);
  });
});
