import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Verdict } from "../scenario/verdict.ts";
import { distribution } from "./distribution.ts";
import { renderHtml } from "./html.ts";
import { renderJunit } from "./junit.ts";
import { loadRun } from "./run-dir.ts";
import { appendStepSummary, renderSummaryMd } from "./summary-md.ts";
import { NASTY, writeRunDir } from "./test-run.ts";
import { writeRepeatReport, writeReports } from "./write.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pgchaos-reports-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The clean run's verdict turned into a failing one: a lost write, an unknown check and a run error, all with hostile text. */
function failing(v: Verdict): Verdict {
  return {
    ...v,
    valid: false,
    checks: {
      ...v.checks,
      dataLoss: { ...v.checks.dataLoss!, valid: false, lost: 1, reasons: [`1 acknowledged writes lost (allowed 0): 42 ${NASTY}`] },
      divergence: { valid: "unknown", reasons: ["no leader in the final state: nothing to compare members with"] },
    },
    run: { ...v.run, error: `teardown failed: ${NASTY}` },
  };
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", htmlEntities: true, isArray: (name) => ["testsuite", "testcase", "property"].includes(name) });

describe("writeReports", () => {
  it("writes report.html, junit.xml and summary.md into the run directory from its files alone", async () => {
    const v = writeRunDir(dir);
    const { files } = await writeReports(dir);
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(["report.html", "junit.xml", "summary.md"]);
    for (const f of files) expect(existsSync(f)).toBe(true);
    expect(readFileSync(join(dir, "summary.md"), "utf8")).toContain("| primary-kill | – | fast | ✅ PASS | 9.01 s | 8.92 s | 0 | 4 | 3.00 s | [report](report.html) |");
    const junit = readFileSync(join(dir, "junit.xml"), "utf8");
    expect(XMLValidator.validate(junit)).toBe(true);
    expect(parser.parse(junit).testsuites.testsuite[0].testcase.map((c: { "@name": string }) => c["@name"])).toEqual(["run", ...Object.keys(v.checks)]);
  });

  it("names the stack, its version and its package checksum in every report", async () => {
    const v = writeRunDir(dir);
    const sha = "b8a6d276d3adb0c9b8a6d6198575c6081134bd2038b4780d08a6c34375972931";
    const withStack: Verdict = {
      ...v,
      stack: "patroni@4.0.7",
      settings: { ...v.settings, stackInfo: { name: "patroni@4.0.7", kind: "patroni", version: "4.0.7", package: { name: "patroni", version: "4.0.7-3~deb13u1", sha256: sha }, source: "Debian trixie" } },
    };
    writeFileSync(join(dir, "verdict.json"), JSON.stringify(withStack));
    await writeReports(dir);
    expect(readFileSync(join(dir, "summary.md"), "utf8")).toContain("| primary-kill | patroni@4.0.7 | fast | ✅ PASS |");
    const props = parser.parse(readFileSync(join(dir, "junit.xml"), "utf8")).testsuites.testsuite[0].properties.property as Array<{ "@name": string; "@value": string }>;
    expect(Object.fromEntries(props.map((p) => [p["@name"], p["@value"]]))).toMatchObject({ stack: "patroni@4.0.7", stackVersion: "4.0.7", stackPackage: "4.0.7-3~deb13u1", stackSha256: sha });
    const html = readFileSync(join(dir, "report.html"), "utf8");
    expect(html).toContain("stack <strong>patroni@4.0.7</strong> (package 4.0.7-3~deb13u1, sha256 <code>" + sha + "</code>)");
  });

  it("still reports a run that failed before final.json and scenario.json", async () => {
    writeRunDir(dir, { omit: ["final.json", "scenario.json"] });
    await writeReports(dir);
    expect(readFileSync(join(dir, "report.html"), "utf8")).toContain("missing from the run directory: scenario.json, final.json");
  });

  it("names the file when the run directory cannot be reported", async () => {
    writeRunDir(dir, { omit: ["verdict.json"] });
    await expect(writeReports(dir)).rejects.toThrow(`${dir} is not a complete run directory: verdict.json is missing`);
  });
});

describe("renderHtml", () => {
  it("is one self-contained document: chart, verdict table, settings, log links", async () => {
    writeRunDir(dir);
    const run = await loadRun(dir);
    const html = renderHtml(run);
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/<script|<link|@import|src=|url\(|https?:\/\//);
    expect(html).toContain(`http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; img-src data:"`);
    // Chart: a bar path per serving node, the fault window and its label, the markers, failures.
    expect(html).toMatch(/<path class="bars" data-node="n1"/);
    expect(html).toMatch(/<path class="bars" data-node="n2"/);
    expect(html).toContain("⚡ kill primary: n1");
    expect(html).toContain("primary n1 → n2");
    expect(html).toContain("timeline 1 → 2");
    expect(html).toContain("failed (897)");
    expect(html).toContain("unknown (4)");
    expect(html).toContain("writes unavailable 9.01 s");
    for (const n of ["n1", "n2", "n3"]) expect(html).toContain(`<g class="probe-band" data-node="${n}">`);
    // Verdict: a row per check, with the headline figures.
    for (const c of Object.keys(run.verdict.checks)) expect(html).toContain(`<tr data-check="${c}">`);
    expect(html).toContain("writes unavailable 9.01 s, n1 → n2, new primary writable after 8.92 s");
    // Settings, flattened; and text from the run is escaped.
    expect(html).toContain("postgresql.wal_sender_timeout");
    expect(html).toContain("&lt;b&gt;not bold&lt;/b&gt;");
    expect(html).toContain("SIGKILL of the primary &lt;Patroni &amp; PostgreSQL&gt;");
    // Logs: relative links to what exists, the rest marked missing.
    expect(html).toContain('<a href="logs/n1/patroni.log">patroni.log</a>');
    expect(html).toContain('<a href="logs/n3/postgresql.log">postgresql.log</a>');
    expect(html).toContain("etcd.log (missing)");
  });

  it("shows reasons of failing and unknown checks and the run error, escaped", async () => {
    const v = writeRunDir(dir);
    writeFileSync(join(dir, "verdict.json"), JSON.stringify(failing(v)));
    const html = renderHtml(await loadRun(dir));
    expect(html).toContain('<span class="badge fail">FAIL</span>');
    expect(html).toContain("1 acknowledged writes lost (allowed 0): 42 &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39; ]]&gt; \uFFFD");
    expect(html).toContain("no leader in the final state");
    expect(html).toContain("<strong>run error:</strong> teardown failed: &lt;script&gt;");
    expect(html).not.toContain("<script>");
  });
});

describe("renderJunit", () => {
  it("one suite per run, one case per check; failure for false, error for unknown; valid, escaped XML", () => {
    const v = writeRunDir(dir);
    const clean = { ...v, scenario: "switchover", profile: "fast+sync" };
    const xml = renderJunit([failing(v), clean]);
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = parser.parse(xml).testsuites;
    const checks = Object.keys(v.checks).length;
    expect(doc["@tests"]).toBe(String(2 * (checks + 1)));
    expect(doc["@failures"]).toBe("1");
    expect(doc["@errors"]).toBe("2"); // divergence unknown + the run error
    const [bad, good] = doc.testsuite;
    expect(bad["@name"]).toBe("primary-kill (fast) 2023-11-14T22:13:20.000Z");
    expect(bad["@time"]).toBe("31.600");
    expect(bad["@timestamp"]).toBe("2023-11-14T22:13:20.000");
    const cases = Object.fromEntries(bad.testcase.map((c: Record<string, unknown>) => [c["@name"], c]));
    expect(cases.dataLoss["@classname"]).toBe("pgchaos.primary-kill.fast");
    expect(cases.dataLoss["@time"]).toBe("0.000");
    expect(cases.dataLoss.failure["@message"]).toBe(`1 acknowledged writes lost (allowed 0): 42 <script>alert("x")</script> & 'quoted' ]]> \uFFFD`);
    expect(cases.divergence.error["@type"]).toBe("unknown");
    expect(cases.run.error["@message"]).toContain("teardown failed: <script>");
    expect(cases.failover.failure).toBeUndefined();
    expect(good.testcase[1]["@classname"]).toBe("pgchaos.switchover.fast+sync");
    expect(good["@failures"]).toBe("0");
  });

  it("keeps line breaks in attributes and text", () => {
    const v = writeRunDir(dir);
    const xml = renderJunit([{ ...v, checks: { failover: { valid: false, reasons: ["first\nsecond", "third"] } } }]);
    expect(XMLValidator.validate(xml)).toBe(true);
    const c = parser.parse(xml).testsuites.testsuite[0].testcase[1];
    expect(c.failure["@message"]).toBe("first\nsecond; third");
    expect(c.failure["#text"]).toBe("failover: FAIL\nfirst\nsecond\nthird");
  });

  it("an empty list is still a valid document", () => {
    expect(XMLValidator.validate(renderJunit([]))).toBe(true);
  });
});

describe("summary.md", () => {
  it("a table row per run, reasons of what did not pass, cells escaped", () => {
    const v = writeRunDir(dir);
    const md = renderSummaryMd([v, failing({ ...v, scenario: "a|b" })], { title: "gate", links: ["r/report.html", undefined] });
    expect(md).toContain("### gate: ❌ FAIL");
    expect(md).toContain("| a\\|b | – | fast | ❌ FAIL |");
    expect(md).toContain("[report](r/report.html)");
    expect(md).toContain("`dataLoss` ❌ FAIL: 1 acknowledged writes lost (allowed 0): 42 &lt;script&gt;");
    expect(md).toContain("`divergence` ⚠️ UNKNOWN: no leader in the final state");
    expect(md).toContain("run error: teardown failed:");
    expect(md).not.toContain("<script>");
  });

  it("appends to $GITHUB_STEP_SUMMARY only when it is set", () => {
    const file = join(dir, "step.md");
    expect(appendStepSummary("# one", {})).toBe(false);
    expect(existsSync(file)).toBe(false);
    expect(appendStepSummary("# one", { GITHUB_STEP_SUMMARY: file })).toBe(true);
    expect(appendStepSummary("# two\n", { GITHUB_STEP_SUMMARY: file })).toBe(true);
    expect(readFileSync(file, "utf8")).toBe("# one\n# two\n");
  });
});

describe("writeRepeatReport", () => {
  it("writes the distribution table and a row per run linking to its report", async () => {
    const runs = ["a", "b", "c"].map((n) => join(dir, "switchover", n));
    runs.forEach((r) => writeRunDir(r));
    await writeReports(runs[0]!);
    rmSync(join(runs[2]!, "verdict.json"));
    const file = join(dir, "switchover", "repeat-2026.json");
    writeFileSync(file, JSON.stringify({ scenario: "switchover", runs, figures: { writeUnavailableMs: distribution([9010, 9010]), recoveryMs: null } }));
    expect(writeRepeatReport(file).file).toBe(join(dir, "switchover", "repeat-2026.html"));
    const html = readFileSync(join(dir, "switchover", "repeat-2026.html"), "utf8");
    expect(html).toContain('<tr data-figure="writeUnavailableMs">');
    expect(html).toMatch(/<td class="num">9\.01 s<\/td>/);
    expect(html).toContain("no run had this figure");
    expect(html).toContain('<a href="a/report.html">a</a>');
    expect(html).toContain('<a href="b/">b</a>');
    expect(html).toContain("verdict.json missing");
    expect(() => writeRepeatReport(join(dir, "none.json"))).toThrow("does not exist");
  });
});
