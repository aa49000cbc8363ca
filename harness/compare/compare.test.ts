import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Validity } from "../checkers/types.ts";
import { NASTY, writeRunDir } from "../report/test-run.ts";
import { writeReports } from "../report/write.ts";
import { loadScenario } from "../scenario/loader.ts";
import type { RunOptions, RunResult } from "../scenario/runner.ts";
import type { Verdict } from "../scenario/verdict.ts";
import { EnvironmentError, UsageError } from "../util/errors.ts";
import { usageError } from "../testing/usage-error.ts";
import { runCompare, type CompareDeps } from "./compare.ts";
import { cellText, runFigures, summarize, type Comparison } from "./model.ts";
import { DOC_END, DOC_START, replaceDocSection } from "./render.ts";

let dir: string;
let suiteDir: string;
let out: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pgchaos-compare-"));
  suiteDir = join(dir, "suites");
  out = join(dir, "out");
  mkdirSync(suiteDir);
  writeFileSync(
    join(suiteDir, "tiny.ts"),
    `export default { name: "tiny", description: "two scenarios", entries: [
       { scenario: "primary-kill", profiles: ["fast", "default"], repeat: 2 },
       { scenario: "switchover", profiles: ["fast+sync"], repeat: 1 },
     ] };\n`,
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

type CallOpts = RunOptions & { stack: string };

/** What a fake run measured; the rest of the run directory is test-run.ts's primary-kill. */
interface Fake {
  unavailableMs?: number;
  lost?: number;
  /** Lengths of split-brain windows. */
  windows?: number[];
  diverged?: boolean;
  valid?: Validity;
  /** Throw like the runner does when the run fails (after writing verdict.json), with this message. */
  throws?: string;
  /** Throw this error instead of running (no run directory). */
  error?: Error;
}

/** Writes a real-looking run directory under opts.outDir and edits its verdict.json to the fake figures. */
async function fakeRun(opts: CallOpts, n: number, f: Fake): Promise<RunResult> {
  if (f.error) throw f.error;
  const runDir = join(opts.outDir, opts.scenario.name, `run-${String(n).padStart(3, "0")}`);
  const verdict: Verdict = writeRunDir(runDir);
  verdict.scenario = opts.scenario.name;
  verdict.profile = opts.sync ? `${opts.profile}+sync` : opts.profile!;
  if (f.throws) {
    verdict.checks = {};
    verdict.valid = "unknown";
    verdict.run.error = f.throws;
  } else {
    if (f.unavailableMs !== undefined) verdict.checks.failover!.writeUnavailableMs = f.unavailableMs;
    if (f.lost !== undefined) verdict.checks.dataLoss!.lost = f.lost;
    const ws = (f.windows ?? []).map((ms, i) => ({ nodes: ["n1", "n2"], start: 1000 * i, end: 1000 * i + ms, ms, writes: {} }));
    verdict.checks.splitBrain = { ...verdict.checks.splitBrain!, valid: ws.length ? false : true, windows: ws, maxWindowMs: Math.max(0, ...ws.map((w) => w.ms)), totalWindowMs: ws.reduce((s, w) => s + w.ms, 0) };
    if (f.diverged) verdict.checks.divergence = { valid: false, reasons: ["n1 holds rows the leader lacks"] };
    verdict.valid = f.valid ?? true;
  }
  writeFileSync(join(runDir, "verdict.json"), JSON.stringify(verdict, null, 2));
  await writeReports(runDir); // as the runner does: report.html, junit.xml, summary.md
  if (f.throws) throw Object.assign(new Error(f.throws), { runDir, verdict });
  return { runDir, verdict };
}

/** A fake runner: `plan(stack, scenario, nth run of that pair)` says what each run measures. */
function fakeRunner(plan: (stack: string, scenario: string, i: number) => Fake = () => ({})) {
  let n = 0;
  const seen = new Map<string, number>();
  return vi.fn(async (opts: CallOpts): Promise<RunResult> => {
    n++;
    const k = `${opts.stack}/${opts.scenario.name}/${opts.profile}`;
    const i = (seen.get(k) ?? 0) + 1;
    seen.set(k, i);
    return fakeRun(opts, n, plan(opts.stack, opts.scenario.name, i));
  });
}

const STACKS: Record<string, string> = { alpha: "alpha@1.0", "alpha@1.0": "alpha@1.0", "beta@2.0": "beta@2.0" };
const parseStack = (s: string) => {
  const name = STACKS[s];
  if (!name) throw new UsageError(`unknown stack "${s}": choose one of alpha@1.0, beta@2.0`);
  return { name };
};

function deps(runScenario: CompareDeps["runScenario"]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const d: CompareDeps = {
    runScenario,
    loadScenario: (name) => loadScenario(name),
    parseStack,
    suiteDir,
    root: dir,
    stdout: { write: (s: string) => stdout.push(s) },
    stderr: { isTTY: false, write: (s: string) => (stderr.push(s), true) } as unknown as NodeJS.WriteStream,
    now: () => new Date("2026-03-04T05:06:07.000Z"),
  };
  return { d, out: () => stdout.join(""), err: () => stderr.join("") };
}

const signal = new AbortController().signal;

const readComparison = (d = out) => JSON.parse(readFileSync(join(d, "comparison.json"), "utf8")) as Comparison;
const cellOf = (c: Comparison, key: string, stack: string) => {
  const row = c.rows.find((r) => r.key === key)!;
  return cellText(row.cells[stack]!.summary, row.cells[stack]!.skipped);
};

describe("runCompare: usage errors come before any run (exit 2 from the CLI)", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["no --stacks", ["--scenarios", "primary-kill"], /--stacks is missing: name the stacks to compare, e\.g\. --stacks/],
    ["an empty stack list", ["--stacks", " , ", "--scenarios", "primary-kill"], /--stacks " , " names no stack: give a comma-separated list/],
    ["an unknown stack", ["--stacks", "alpha,gamma@9", "--scenarios", "primary-kill"], /unknown stack "gamma@9": choose one of alpha@1\.0, beta@2\.0/],
    ["a stack named twice", ["--stacks", "alpha,alpha@1.0", "--scenarios", "primary-kill"], /--stacks names alpha@1\.0 more than once/],
    ["no --scenarios", ["--stacks", "alpha"], /--scenarios is missing: name scenarios \(`npm run scenario -- --list`\) or a suite \(tiny\)/],
    ["an empty scenario list", ["--stacks", "alpha", "--scenarios", ","], /--scenarios "," names nothing/],
    ["an unknown scenario", ["--stacks", "alpha", "--scenarios", "primary-kill,primary-kil"], /unknown scenario "primary-kil"\.[^]*Available: [^]*Or name a suite: tiny\./],
    ["a scenario listed twice", ["--stacks", "alpha", "--scenarios", "primary-kill,tiny"], /brings primary-kill\/fast more than once/],
    ["an unknown profile", ["--stacks", "alpha", "--scenarios", "primary-kill", "--profile", "turbo"], /unknown profile "turbo": use one of default, fast|unknown profile "turbo": use one of fast, default/],
    ["--repeat 0", ["--stacks", "alpha", "--scenarios", "primary-kill", "--repeat", "0"], /--repeat takes a whole number from 1 to 1000, got "0"/],
    ["--repeat 1001", ["--stacks", "alpha", "--scenarios", "primary-kill", "--repeat", "1001"], /--repeat takes a whole number from 1 to 1000, got "1001"/],
    ["--repeat -3", ["--stacks", "alpha", "--scenarios", "primary-kill", "--repeat", "-3"], /--repeat takes a whole number from 1 to 1000, got "-3"/],
    ["--repeat 2.5", ["--stacks", "alpha", "--scenarios", "primary-kill", "--repeat", "2.5"], /got "2\.5"/],
    ["an unknown option", ["--stacks", "alpha", "--scenarios", "primary-kill", "--turbo"], /turbo[^]*npm run compare -- --help/],
  ];
  for (const [what, argv, message] of cases) {
    it(`${what}`, async () => {
      const run = fakeRunner();
      const e = await usageError(runCompare(argv, deps(run).d, signal));
      expect(e.message).toMatch(message);
      expect(run).not.toHaveBeenCalled();
      expect(existsSync(join(dir, "reports"))).toBe(false);
    });
  }

  it("--help prints the usage and runs nothing", async () => {
    const run = fakeRunner();
    const x = deps(run);
    expect(await runCompare(["--help"], x.d, signal)).toBe(0);
    expect(x.out()).toContain("npm run compare -- --stacks STACK,STACK[,...] --scenarios NAME[,NAME...]");
    expect(run).not.toHaveBeenCalled();
  });
});

describe("runCompare: a suite expands to its scenarios, profiles and repeats; runs are interleaved across stacks", () => {
  it("calls the runner with the scenario, profile, sync, stack and a per-stack output folder", async () => {
    const run = fakeRunner();
    expect(await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "tiny", "--out", out, "--quiet", "--no-doc"], deps(run).d, signal)).toBe(0);
    expect(run.mock.calls.map(([o]) => [o.scenario.name, o.profile, o.sync, o.stack, o.outDir])).toEqual([
      ["primary-kill", "fast", false, "alpha@1.0", join(out, "alpha@1.0")],
      ["primary-kill", "fast", false, "beta@2.0", join(out, "beta@2.0")],
      ["primary-kill", "fast", false, "alpha@1.0", join(out, "alpha@1.0")],
      ["primary-kill", "fast", false, "beta@2.0", join(out, "beta@2.0")],
      ["primary-kill", "default", false, "alpha@1.0", join(out, "alpha@1.0")],
      ["primary-kill", "default", false, "beta@2.0", join(out, "beta@2.0")],
      ["primary-kill", "default", false, "alpha@1.0", join(out, "alpha@1.0")],
      ["primary-kill", "default", false, "beta@2.0", join(out, "beta@2.0")],
      ["switchover", "fast", true, "alpha@1.0", join(out, "alpha@1.0")],
      ["switchover", "fast", true, "beta@2.0", join(out, "beta@2.0")],
    ]);
    for (const [o] of run.mock.calls) expect(o.signal).toBe(signal);
    expect(readComparison().rows.map((r) => [r.key, r.repeat])).toEqual([
      ["primary-kill/fast", 2],
      ["primary-kill/default", 2],
      ["switchover/fast+sync", 1],
    ]);
    expect(existsSync(join(dir, "reports", "COMPARISON.md"))).toBe(false); // --no-doc
  });

  it("--repeat and --profile override the suite's", async () => {
    const run = fakeRunner();
    await runCompare(["--stacks", "alpha", "--scenarios", "tiny", "--repeat", "1", "--profile", "default", "--out", out, "--quiet", "--no-doc"], deps(run).d, signal);
    expect(run.mock.calls.map(([o]) => [o.scenario.name, o.profile, o.sync])).toEqual([
      ["primary-kill", "default", false],
      ["switchover", "default", false],
    ]);
  });
});

describe("runCompare: 2 fake stacks × 2 scenarios", () => {
  /** alpha passes everything; beta loses writes, has a split-brain and a divergence, and fails two switchovers. */
  const plan = (stack: string, scenario: string, i: number): Fake => {
    if (stack === "alpha@1.0") return scenario === "primary-kill" ? { unavailableMs: [9000, 14_000, 10_000][i - 1] } : { unavailableMs: 1500 + i * 100 };
    if (scenario === "primary-kill") {
      return [
        { unavailableMs: 20_000, lost: 0 },
        { unavailableMs: 22_000, lost: 5, windows: [850, 300], valid: false },
        { unavailableMs: 21_000, lost: 120, diverged: true, valid: false },
      ][i - 1]!;
    }
    return i === 1 ? { unavailableMs: 2500 } : { throws: `deploy failed: ${NASTY}` };
  };

  it("writes comparison.json with every run's figures and directory, and the expected table cells", async () => {
    const run = fakeRunner(plan);
    const x = deps(run);
    const code = await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "primary-kill,switchover", "--repeat", "3", "--out", out, "--quiet"], x.d, signal);
    expect(code).toBe(1); // beta had FAILs and failed runs
    expect(run).toHaveBeenCalledTimes(12);
    expect(x.err()).toContain("compare: switchover/fast on beta@2.0, run 2 failed: deploy failed:");

    const c = readComparison();
    expect(c.stacks).toEqual(["alpha@1.0", "beta@2.0"]);
    expect(c.rows.map((r) => r.key)).toEqual(["primary-kill/fast", "switchover/fast"]);
    expect(c.interrupted).toBe(false);
    const betaKill = c.rows[0]!.cells["beta@2.0"]!;
    expect(betaKill.runs.map((r) => [r.valid, r.writeUnavailableMs, r.lostWrites, r.splitBrainWindows, r.splitBrainTotalMs, r.divergenceValid, r.recoveryMs])).toEqual([
      [true, 20_000, 0, 0, 0, true, 3000],
      [false, 22_000, 5, 2, 1150, true, 3000],
      [false, 21_000, 120, 0, 0, false, 3000],
    ]);
    expect(betaKill.runs.every((r) => typeof r.timeToNewPrimaryMs === "number")).toBe(true);
    for (const r of betaKill.runs) expect(existsSync(join(out, r.runDir!, "verdict.json"))).toBe(true);
    expect(betaKill.runs[0]!.runDir).toBe("beta@2.0/primary-kill/run-002");

    expect(cellOf(c, "primary-kill/fast", "alpha@1.0")).toEqual({
      unavailable: "median 10.00 s, p95 14.00 s (3 runs)",
      lost: "median 0, max 0 (3 runs)",
      splitBrain: "none (3 runs)",
      divergence: "none (3 runs)",
      recovery: "median 3.00 s (3 runs)",
      verdict: "3 PASS",
    });
    expect(cellOf(c, "primary-kill/fast", "beta@2.0")).toEqual({
      unavailable: "median 21.00 s, p95 22.00 s (3 runs)",
      lost: "median 5, max 120 (3 runs)",
      splitBrain: "1 of 3 runs, longest 0.85 s",
      divergence: "1 of 3 runs",
      recovery: "median 3.00 s (3 runs)",
      verdict: "1 PASS, 2 FAIL",
    });
    // Two runs threw: a failed cell, not a crash; the one that completed is "1 of 3 runs".
    const betaSw = c.rows[1]!.cells["beta@2.0"]!;
    expect(betaSw.runs.map((r) => [r.valid, r.error !== undefined, r.runDir !== undefined])).toEqual([
      [true, false, true],
      ["unknown", true, true],
      ["unknown", true, true],
    ]);
    expect(cellOf(c, "switchover/fast", "beta@2.0")).toMatchObject({ unavailable: "2.50 s (1 of 3 runs)", lost: "0 (1 of 3 runs)", verdict: "1 PASS, 2 runs failed" });

    const md = readFileSync(join(out, "comparison.md"), "utf8");
    expect(md).toContain("| scenario / profile | `alpha@1.0` | `beta@2.0` |");
    expect(md).toContain("writes unavailable: median 21.00 s, p95 22.00 s (3 runs)");
    expect(md).toContain("split-brain: 1 of 3 runs, longest 0.85 s");
    // Relative links to each run's report.html; "@" percent-encoded.
    expect(md).toContain("[1](beta%402.0/primary-kill/run-002/report.html");
    expect(md).not.toContain("<script>");
    expect(x.out()).toContain("comparison: " + join(out, "comparison.html"));
  });

  it("one run per cell says \"1 run\" and shows the single value", async () => {
    const run = fakeRunner(plan);
    await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "primary-kill,switchover", "--out", out, "--quiet", "--no-doc"], deps(run).d, signal);
    const c = readComparison();
    expect(cellOf(c, "primary-kill/fast", "alpha@1.0")).toEqual({
      unavailable: "9.00 s (1 run)",
      lost: "0 (1 run)",
      splitBrain: "none (1 run)",
      divergence: "none (1 run)",
      recovery: "3.00 s (1 run)",
      verdict: "1 PASS",
    });
    expect(cellOf(c, "switchover/fast", "beta@2.0").unavailable).toBe("2.50 s (1 run)");
    expect(readFileSync(join(out, "comparison.md"), "utf8")).toContain("**primary-kill/fast**<br>1 run per stack");
  });

  it("comparison.html is self-contained, escaped, and has one small timeline per stack per scenario", async () => {
    const run = fakeRunner(plan);
    await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "primary-kill,switchover", "--repeat", "3", "--out", out, "--quiet", "--no-doc"], deps(run).d, signal);
    const html = readFileSync(join(out, "comparison.html"), "utf8");
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; img-src data:">/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|src=|url\(|@import/i);
    expect(html).not.toContain(NASTY);
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    // Column groups: one per stack, six columns each.
    expect(html).toContain('<th colspan="6" scope="colgroup" class="stack">alpha@1.0</th>');
    expect(html).toContain('<th colspan="6" scope="colgroup" class="stack">beta@2.0</th>');
    expect(html).toContain('data-stack="beta@2.0" data-figure="lost">median 5, max 120 (3 runs)</td>');
    // Small multiples: one small SVG per (scenario, stack), no duplicated id, the report's id not reused.
    expect(html.match(/<svg class="timeline small" viewBox="0 0 420 /g)).toHaveLength(4);
    expect(html).not.toContain('id="timeline"');
    for (const row of ["primary-kill/fast", "switchover/fast"]) {
      for (const stack of ["alpha@1.0", "beta@2.0"]) {
        const fig = new RegExp(`<figure class="small" data-stack="${stack.replace(/\./g, "\\.")}" data-row="${row}">[^]*?</figure>`).exec(html)?.[0];
        expect(fig, `${row} on ${stack}`).toMatch(/<svg class="timeline small"/);
      }
    }
    // Every link is relative and points at a run's report.html that exists.
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    expect(hrefs.length).toBeGreaterThan(12);
    for (const h of hrefs) {
      expect(h).toMatch(/^(alpha|beta)%40[\d.]+\/(primary-kill|switchover)\/run-\d{3}\/report\.html$/);
      expect(existsSync(join(out, decodeURIComponent(h)))).toBe(true);
    }
  });

  it("rewrites the generated part of reports/COMPARISON.md in place on a second run, keeping the prose", async () => {
    const docFile = join(dir, "reports", "COMPARISON.md");
    await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "primary-kill", "--out", join(dir, "reports", "compare", "one"), "--quiet"], deps(fakeRunner(plan)).d, signal);
    const first = readFileSync(docFile, "utf8");
    expect(first).toMatch(/^# Comparing HA stacks\n/);
    expect(first).toContain(DOC_START);
    expect(first).toContain("9.00 s (1 run)");
    // Links are relative to reports/.
    expect(first).toContain("(compare/one/alpha%401.0/primary-kill/run-001/report.html");
    expect(first).toContain("[full comparison with timelines](compare/one/comparison.html)");
    writeFileSync(docFile, first.replace("# Comparing HA stacks\n", "# Comparing HA stacks\n\nA note written by hand.\n") + "\nA closing note.\n");

    const second = (s: string, sc: string, i: number): Fake => ({ ...plan(s, sc, i), unavailableMs: 4321 });
    await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "primary-kill", "--out", join(dir, "reports", "compare", "two"), "--quiet"], deps(fakeRunner(second)).d, signal);
    const doc = readFileSync(docFile, "utf8");
    expect(doc.split(DOC_START)).toHaveLength(2);
    expect(doc.split(DOC_END)).toHaveLength(2);
    expect(doc).not.toContain("9.00 s (1 run)");
    expect(doc).not.toContain("compare/one/");
    expect(doc).toContain("4.32 s (1 run)");
    expect(doc).toContain("A note written by hand.");
    expect(doc).toMatch(/<!-- end of generated comparison -->\n\nA closing note\.\n$/);
  });
});

describe("runCompare --add-to: a stack added to an earlier comparison", () => {
  const STACK3: Record<string, string> = { ...STACKS, "gamma@3.0": "gamma@3.0" };
  const parse3 = (s: string) => {
    const name = STACK3[s];
    if (!name) throw new UsageError(`unknown stack "${s}"`);
    return { name };
  };

  it("runs only the new stack, adds its column to every row, keeps the earlier runs and records both commands", async () => {
    const first = fakeRunner(() => ({ unavailableMs: 9000 }));
    await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "primary-kill,switchover", "--out", out, "--quiet"], deps(first).d, signal);
    const added = fakeRunner(() => ({ unavailableMs: 4321, lost: 7, valid: false }));
    const x = deps(added);
    x.d.parseStack = parse3;
    const code = await runCompare(["--stacks", "gamma@3.0", "--scenarios", "primary-kill,switchover", "--add-to", out, "--quiet"], x.d, signal);
    expect(code).toBe(1); // gamma's runs FAIL
    expect(added).toHaveBeenCalledTimes(2);
    expect(added.mock.calls.map((call) => call[0].stack)).toEqual(["gamma@3.0", "gamma@3.0"]);
    const c = readComparison();
    expect(c.stacks).toEqual(["alpha@1.0", "beta@2.0", "gamma@3.0"]);
    expect(c.command).toMatch(/--stacks alpha,beta@2\.0 .*; npm run compare -- --stacks gamma@3\.0 .*--add-to /);
    expect(cellOf(c, "primary-kill/fast", "alpha@1.0").unavailable).toBe("9.00 s (1 run)");
    expect(cellOf(c, "primary-kill/fast", "gamma@3.0").unavailable).toBe("4.32 s (1 run)");
    expect(existsSync(join(out, "gamma@3.0"))).toBe(true);
    const doc = readFileSync(join(dir, "reports", "COMPARISON.md"), "utf8");
    expect(doc).toContain("`gamma@3.0`");
    expect(doc).toContain("`alpha@1.0`");
  });

  it("interrupted, leaves the earlier comparison as it was, so the same --add-to can run again", async () => {
    await runCompare(["--stacks", "alpha", "--scenarios", "primary-kill,switchover", "--out", out, "--quiet"], deps(fakeRunner()).d, signal);
    const before = readFileSync(join(out, "comparison.json"), "utf8");
    const ctl = new AbortController();
    const run = vi.fn(async (opts: CallOpts): Promise<RunResult> => {
      const r = await fakeRun(opts, 1, {});
      ctl.abort();
      return r;
    });
    const x = deps(run);
    x.d.parseStack = parse3;
    expect(await runCompare(["--stacks", "gamma@3.0", "--scenarios", "primary-kill,switchover", "--add-to", out, "--quiet"], x.d, ctl.signal)).toBe(130);
    expect(readFileSync(join(out, "comparison.json"), "utf8")).toBe(before);
    const again = deps(fakeRunner());
    again.d.parseStack = parse3;
    expect(await runCompare(["--stacks", "gamma@3.0", "--scenarios", "primary-kill,switchover", "--add-to", out, "--quiet"], again.d, signal)).toBe(0);
    expect(readComparison().stacks).toEqual(["alpha@1.0", "gamma@3.0"]);
    expect(existsSync(join(out, "comparison.adding.json"))).toBe(false);
  });

  it("refuses, before any run, a folder with no comparison, other scenarios, a stack already there, or --out beside it", async () => {
    const first = fakeRunner();
    await runCompare(["--stacks", "alpha", "--scenarios", "primary-kill", "--out", out, "--quiet"], deps(first).d, signal);
    const cases: Array<[string[], RegExp]> = [
      [["--stacks", "beta@2.0", "--scenarios", "primary-kill", "--add-to", join(dir, "nothing")], /no comparison\.json there/],
      [["--stacks", "beta@2.0", "--scenarios", "switchover", "--add-to", out], /its scenarios are primary-kill\/fast×1, not switchover\/fast×1/],
      [["--stacks", "alpha", "--scenarios", "primary-kill", "--add-to", out], /alpha@1\.0 already compared there/],
      [["--stacks", "beta@2.0", "--scenarios", "primary-kill", "--add-to", out, "--out", join(dir, "x")], /drop --out/],
    ];
    for (const [argv, re] of cases) {
      const run = fakeRunner();
      await expect(runCompare([...argv, "--quiet"], deps(run).d, signal)).rejects.toThrow(re);
      expect(run).not.toHaveBeenCalled();
    }
  });
});

describe("runCompare: interruptions and machines that cannot run a stack", () => {
  it("Ctrl-C: stops after the run that was torn down, writes what was measured, returns 130, leaves COMPARISON.md alone", async () => {
    const abort = new AbortController();
    const run = fakeRunner((_s, _sc, i) => (i === 1 ? {} : { throws: "interrupted by SIGINT" }));
    run.mockImplementationOnce(async (opts) => fakeRun(opts, 1, {}));
    run.mockImplementationOnce(async (opts) => {
      abort.abort();
      return fakeRun(opts, 2, { throws: "interrupted by SIGINT" });
    });
    const code = await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "primary-kill,switchover", "--out", out, "--quiet"], deps(run).d, abort.signal);
    expect(code).toBe(130);
    expect(run).toHaveBeenCalledTimes(2);
    const c = readComparison();
    expect(c.interrupted).toBe(true);
    expect(c.rows[0]!.cells["beta@2.0"]!.runs[0]!.error).toBe("interrupted by SIGINT");
    expect(readFileSync(join(out, "comparison.html"), "utf8")).toContain("interrupted:");
    expect(existsSync(join(dir, "reports", "COMPARISON.md"))).toBe(false);
  });

  it("an environment error skips the rest of that stack's runs; the other stack still runs", async () => {
    const run = fakeRunner((stack) => (stack === "beta@2.0" ? { error: new EnvironmentError("patroni@beta is not installed: run scripts/fetch-stacks.ts") } : {}));
    const code = await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "primary-kill,switchover", "--out", out, "--quiet", "--no-doc"], deps(run).d, signal);
    expect(code).toBe(1);
    expect(run.mock.calls.map(([o]) => o.stack)).toEqual(["alpha@1.0", "beta@2.0", "alpha@1.0"]);
    const c = readComparison();
    expect(cellOf(c, "switchover/fast", "beta@2.0").verdict).toBe("not run (skipped: patroni@beta is not installed: run scripts/fetch-stacks.ts)");
    expect(cellOf(c, "primary-kill/fast", "beta@2.0").verdict).toBe("1 run failed");
  });

  it("when no stack can run at all, the environment error ends the compare (exit 2)", async () => {
    const run = fakeRunner(() => ({ error: new EnvironmentError("not root") }));
    const e = await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "primary-kill", "--out", out, "--quiet"], deps(run).d, signal).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(EnvironmentError);
    expect(run).toHaveBeenCalledTimes(2);
  });
});

describe("runCompare: the stack a verdict says it ran", () => {
  it("warns when a run's verdict names another stack than the one asked for", async () => {
    const run = vi.fn(async (opts: CallOpts) => {
      const r = await fakeRun(opts, 1, {});
      const v = JSON.parse(readFileSync(join(r.runDir, "verdict.json"), "utf8"));
      writeFileSync(join(r.runDir, "verdict.json"), JSON.stringify({ ...v, stack: opts.stack === "beta@2.0" ? "alpha@1.0" : "alpha" }));
      return r;
    });
    const x = deps(run);
    await runCompare(["--stacks", "alpha,beta@2.0", "--scenarios", "primary-kill", "--out", out, "--quiet", "--no-doc"], x.d, signal);
    expect(x.err()).toContain("compare: warning: primary-kill/fast run 1 was asked for beta@2.0 but its verdict says alpha@1.0");
    expect(x.err()).not.toContain("asked for alpha@1.0"); // "alpha" is alpha@1.0
  });
});

describe("model and document helpers", () => {
  it("writes a node acknowledged to a client beside it and lost count beside the service's lost writes", () => {
    const runs = [
      { valid: false as const, lostWrites: 0, lostDirectWrites: 41 },
      { valid: true as const, lostWrites: 0, lostDirectWrites: 0 },
      { valid: false as const, lostWrites: 1063, lostDirectWrites: 54 },
    ];
    expect(cellText(summarize(runs)).lost).toBe("median 0, max 1063 (3 runs); acknowledged directly by a node: median 41, max 54");
    expect(cellText(summarize([runs[1]!])).lost).toBe("0 (1 run)");
  });

  it("a failed run with no verdict counts apart and has no figures", () => {
    const r = runFigures(undefined, undefined, "boom");
    expect(r).toEqual({ valid: "unknown", error: "boom" });
    const s = summarize([r]);
    expect(cellText(s)).toEqual({ unavailable: "–", lost: "–", splitBrain: "–", divergence: "–", recovery: "–", verdict: "1 run failed" });
  });

  it("replaceDocSection adds a section after the prose when there is none, and drops a dangling one to the end", () => {
    const section = `${DOC_START}\nT\n${DOC_END}`;
    expect(replaceDocSection("# Mine\n\nprose\n", section)).toBe(`# Mine\n\nprose\n\n${section}\n`);
    expect(replaceDocSection(`# Mine\n\n${DOC_START}\nold and broken`, section)).toBe(`# Mine\n\n${section}\n`);
    expect(replaceDocSection(undefined, section)).toMatch(/^# Comparing HA stacks[^]*<!-- end of generated comparison -->\n$/);
  });
});

describe("npm run compare (the CLI) exits 2 on usage errors", () => {
  const run = promisify(execFile);
  const cliFile = resolve(import.meta.dirname, "cli.ts");
  const cli = (args: string[]) =>
    run(process.execPath, ["--import", "tsx", cliFile, ...args], { cwd: resolve(import.meta.dirname, "../.."), timeout: 60_000 }).then(
      (r) => ({ exitCode: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ exitCode: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it("an unknown stack names the known ones; nothing is written", async () => {
    const before = existsSync(resolve(import.meta.dirname, "../../reports/compare")) ? readdirSync(resolve(import.meta.dirname, "../../reports/compare")).length : 0;
    const r = await cli(["--stacks", "patroni@3.0.2,patroni@9.9.9", "--scenarios", "primary-kill"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/pgchaos compare: unknown stack "patroni@9\.9\.9": choose one of patroni@3\.0\.2/);
    const after = existsSync(resolve(import.meta.dirname, "../../reports/compare")) ? readdirSync(resolve(import.meta.dirname, "../../reports/compare")).length : 0;
    expect(after).toBe(before);
  }, 60_000);

  it("--repeat out of range", async () => {
    const r = await cli(["--stacks", "patroni@3.0.2", "--scenarios", "smoke", "--repeat", "0"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--repeat takes a whole number from 1 to 1000");
  }, 60_000);
});
