import type { Verdict } from "../scenario/verdict.ts";
import { esc, hrefOf } from "../report/escape.ts";
import { formatFigure, htmlPage } from "../report/html.ts";
import { renderJunit, type JunitCase, type JunitSuite } from "../report/junit.ts";
import { mdCell } from "../report/summary-md.ts";
import { fmt, type EntryComparison, type FigureComparison, type GateComparison } from "./compare.ts";

export interface GateMeta {
  suite: string;
  baselineFile: string;
  updateBaseline: boolean;
  /** Where gate-report.* are written; run links are made relative to it. */
  outDir: string;
  startedAt: string;
}

const PASS = (p: boolean) => (p ? "PASS" : "FAIL");
const change = (f: FigureComparison) =>
  f.delta === undefined ? "–" : `${f.delta >= 0 ? "+" : "-"}${fmt(f.figure, Math.abs(f.delta))}${f.deltaPct !== undefined && Number.isFinite(f.deltaPct) ? ` (${f.deltaPct >= 0 ? "+" : ""}${f.deltaPct.toFixed(1)}%)` : ""}`;
const shown = (f: FigureComparison) => (f.value === undefined ? "–" : fmt(f.figure, f.value));

/** What the terminal shows: the verdict first, then every regression and finding in full sentences. */
export function renderGateText(c: GateComparison, meta: GateMeta): string {
  const lines = ["", `gate ${meta.suite}: ${PASS(c.pass)}${meta.updateBaseline ? " (updating the baseline)" : ""}`];
  for (const e of c.entries) {
    lines.push(`  ${e.key.padEnd(28)} ${PASS(e.pass).padEnd(5)} ${e.runs.length} run(s)${e.baselineMissing ? ", no baseline entry" : ""}`);
    for (const f of e.figures) {
      const mark = f.status === "regressed" || f.status === "missing" ? "✗" : f.status === "improved" ? "↑" : "✓";
      lines.push(`    ${mark} ${`${f.figure} ${f.stat}`.padEnd(26)} ${shown(f).padStart(9)}  baseline ${fmt(f.figure, f.baseline).padStart(9)}  ${change(f).padEnd(20)} ${f.status}`);
    }
    for (const x of e.findings) lines.push(`    ✗ ${x.kind}${x.run ? ` (run ${x.run})` : ""}: ${x.message}`);
  }
  if (c.regressions.length) {
    lines.push("", "regressions:");
    for (const r of c.regressions) lines.push(`  - ${r.message}`);
  }
  lines.push(`  baseline: ${meta.baselineFile}`, `  reports: ${meta.outDir}`, "");
  return lines.join("\n");
}

export function renderGateMarkdown(c: GateComparison, meta: GateMeta): string {
  const lines = [
    `### pgchaos gate \`${mdCell(meta.suite)}\`: ${c.pass ? "✅ PASS" : "❌ FAIL"}${meta.updateBaseline ? " (baseline updated)" : ""}`,
    "",
    `Baseline \`${mdCell(meta.baselineFile)}\`; medians and p95 over each scenario's repeats, nearest rank.`,
    "",
    "| scenario/profile | figure | stat | value | baseline | change | allowed up to | status |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const e of c.entries) {
    if (e.figures.length === 0) lines.push(`| ${mdCell(e.key)} | – | – | – | – | – | – | ${e.baselineMissing ? "no baseline entry" : "nothing baselined"} |`);
    for (const f of e.figures) {
      const status = f.status === "regressed" ? "❌ regressed" : f.status === "missing" ? "❌ missing" : f.status === "improved" ? "⬆️ improved" : "✅ ok";
      lines.push(`| ${mdCell(e.key)} | ${mdCell(f.figure)} | ${f.stat} | ${shown(f)} | ${fmt(f.figure, f.baseline)} | ${mdCell(change(f))} | ${fmt(f.figure, f.limit)} | ${status} |`);
    }
  }
  const runs = c.entries.map((e) => `| ${mdCell(e.key)} | ${e.pass ? "✅ PASS" : "❌ FAIL"} | ${e.runs.length} | ${e.runs.filter((r) => r.verdict?.valid === true && !r.error).length} | ${e.findings.filter((f) => f.kind === "safety").length} |`);
  lines.push("", "| scenario/profile | gate | runs | runs passing | safety findings |", "| --- | --- | ---: | ---: | ---: |", ...runs);
  if (c.findings.length || c.regressions.length) {
    lines.push("", "**Why it failed:**", "");
    for (const r of c.regressions) lines.push(`- ${mdCell(r.message)}`);
    for (const f of c.findings) lines.push(`- **${mdCell(f.key)}** ${f.kind}${f.run ? ` (run ${f.run})` : ""}: ${mdCell(f.message)}`);
  }
  lines.push("");
  return lines.join("\n");
}

function relLink(outDir: string, runDir: string | undefined): string | undefined {
  if (!runDir) return undefined;
  const rel = runDir.startsWith(outDir + "/") ? runDir.slice(outDir.length + 1) : undefined;
  return rel === undefined ? `file://${hrefOf(runDir)}/report.html` : `${hrefOf(rel)}/report.html`;
}

function entryHtml(e: EntryComparison, meta: GateMeta): string {
  const status = (f: FigureComparison) =>
    `<span class="badge ${f.status === "regressed" || f.status === "missing" ? "fail" : "pass"}">${esc(f.status.toUpperCase())}</span>`;
  const figs = e.figures.length
    ? `<table class="figures"><thead><tr><th>figure</th><th>stat</th><th class="num">value</th><th class="num">baseline</th><th class="num">change</th><th class="num">allowed up to</th><th>status</th></tr></thead><tbody>${e.figures
        .map(
          (f) =>
            `<tr data-figure="${esc(f.figure)}" data-stat="${f.stat}" data-status="${f.status}"><td>${esc(f.figure)}</td><td>${f.stat}</td><td class="num">${esc(shown(f))}</td><td class="num">${esc(fmt(f.figure, f.baseline))}</td><td class="num">${esc(change(f))}</td><td class="num">${esc(fmt(f.figure, f.limit))}</td><td>${status(f)}</td></tr>`,
        )
        .join("")}</tbody></table>`
    : `<p class="missing">${e.baselineMissing ? "no baseline entry" : "nothing baselined"}</p>`;
  const dist = Object.entries(e.distributions)
    .filter(([, d]) => d)
    .map(([k, d]) => `<tr><td>${esc(k)}</td><td class="num">${d!.n}</td><td class="num">${esc(formatFigure(k, d!.min))}</td><td class="num">${esc(formatFigure(k, d!.median))}</td><td class="num">${esc(formatFigure(k, d!.p95))}</td><td class="num">${esc(formatFigure(k, d!.max))}</td></tr>`)
    .join("");
  const findings = e.findings.length ? `<ul class="reasons">${e.findings.map((f) => `<li><strong>${esc(f.kind)}</strong>${f.run ? ` (run ${f.run})` : ""}: ${esc(f.message)}</li>`).join("")}</ul>` : "";
  const runs = e.runs
    .map((r, i) => {
      const href = relLink(meta.outDir, r.runDir);
      const label = `run ${i + 1}`;
      const v = r.verdict?.valid;
      const badge = `<span class="badge ${v === true && !r.error ? "pass" : v === false || r.error ? "fail" : "unknown"}">${v === true && !r.error ? "PASS" : v === false || r.error ? "FAIL" : "UNKNOWN"}</span>`;
      return `<li>${href ? `<a href="${esc(href)}">${label}</a>` : label} ${badge}</li>`;
    })
    .join("");
  return (
    `<section class="entry" data-key="${esc(e.key)}"><h2>${esc(e.key)} <span class="badge ${e.pass ? "pass" : "fail"}">${PASS(e.pass)}</span></h2>${findings}${figs}` +
    `<details><summary>distributions over ${e.runs.length} run(s)</summary><table><thead><tr><th>figure</th><th class="num">n</th><th class="num">min</th><th class="num">median</th><th class="num">p95</th><th class="num">max</th></tr></thead><tbody>${dist}</tbody></table></details>` +
    `<ul class="runs">${runs}</ul>` +
    `<p class="note"><a href="${esc(`${hrefOf(e.scenario)}/${hrefOf(`repeat-${e.profile}.html`)}`)}">distribution report</a> (min, median, p95, max of every figure)</p></section>`
  );
}

export function renderGateHtml(c: GateComparison, meta: GateMeta): string {
  const body =
    `<header><h1>gate ${esc(meta.suite)} <span class="badge ${c.pass ? "pass" : "fail"}">${PASS(c.pass)}</span></h1>` +
    `<p class="meta">started ${esc(meta.startedAt)} · baseline <code>${esc(meta.baselineFile)}</code>${meta.updateBaseline ? " · updating the baseline" : ""}</p></header>` +
    (c.regressions.length ? `<section id="regressions"><h2>Regressions</h2><ul class="reasons">${c.regressions.map((r) => `<li>${esc(r.message)}</li>`).join("")}</ul></section>` : "") +
    c.entries.map((e) => entryHtml(e, meta)).join("");
  return htmlPage(`pgchaos gate ${meta.suite}: ${PASS(c.pass)}`, body, "Generated by <code>npm run gate</code>; each run's own report.html has its timeline.");
}

/** The gate's JUnit: every run's suite, then one `gate` suite with a case per entry's safety, expectations and baselined figure. */
export function renderGateJunit(c: GateComparison, meta: GateMeta): string {
  const verdicts: Verdict[] = c.entries.flatMap((e) => e.runs.flatMap((r) => (r.verdict ? [r.verdict] : [])));
  const cases: JunitCase[] = [];
  for (const e of c.entries) {
    const classname = `pgchaos.gate.${meta.suite}.${e.key.replace("/", ".")}`;
    for (const kind of ["safety", "expectation", "run", "baseline"] as const) {
      const fs = e.findings.filter((f) => f.kind === kind);
      const text = fs.map((f) => `${f.run ? `run ${f.run}: ` : ""}${f.message}`).join("\n");
      cases.push({ name: kind, classname, ...(fs.length ? { failure: { message: text.split("\n")[0]!, type: kind, text } } : {}) });
    }
    for (const f of e.figures) {
      const bad = f.status === "regressed" || f.status === "missing";
      cases.push({ name: `${f.figure} ${f.stat}`, classname, systemOut: f.message, ...(bad && !meta.updateBaseline ? { failure: { message: f.message, type: f.status } } : {}) });
    }
  }
  const gate: JunitSuite = { name: `gate ${meta.suite}`, timestamp: meta.startedAt.replace(/Z$/, ""), cases };
  return renderJunit(verdicts, [gate]);
}
