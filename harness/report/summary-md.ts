import { appendFileSync } from "node:fs";
import type { Validity } from "../checkers/types.ts";
import type { Verdict } from "../scenario/verdict.ts";

/** A table cell: pipes escaped, line breaks flattened, HTML-sensitive characters neutralised. */
export function mdCell(v: unknown): string {
  return String(v ?? "")
    .replace(/\r?\n/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\|/g, "\\|")
    .trim();
}

/** A Markdown link target: characters that would end it are percent-encoded. */
const mdLink = (href: string) => href.replace(/[()\s<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);

export const mdMark = (v: Validity | undefined) => (v === true ? "✅ PASS" : v === false ? "❌ FAIL" : "⚠️ UNKNOWN");
const secs = (ms: unknown) => (typeof ms === "number" ? `${(ms / 1000).toFixed(2)} s` : "–");
const num = (x: unknown) => (typeof x === "number" ? String(x) : "–");

export interface SummaryOptions {
  title?: string;
  /** Per verdict, a link (relative or absolute) to its run's report.html. */
  links?: Array<string | undefined>;
}

/**
 * Markdown for a CI job summary: one row per run with its verdict and headline figures, then the reasons
 * of every check that did not pass.
 */
export function renderSummaryMd(verdicts: readonly Verdict[], opts: SummaryOptions = {}): string {
  const lines: string[] = [];
  const overall: Validity = verdicts.some((v) => v.valid === false) ? false : verdicts.every((v) => v.valid === true) ? true : "unknown";
  lines.push(`### ${mdCell(opts.title ?? "pgchaos")}: ${mdMark(verdicts.length ? overall : "unknown")}`, "");
  lines.push("| scenario | stack | profile | verdict | writes unavailable | new primary after | lost | indeterminate | recovery | report |");
  lines.push("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
  verdicts.forEach((v, i) => {
    const f = v.checks.failover;
    const d = v.checks.dataLoss;
    const link = opts.links?.[i];
    lines.push(
      `| ${mdCell(v.scenario)} | ${mdCell(v.stack ?? "–")} | ${mdCell(v.profile)} | ${mdMark(v.valid)} | ${secs(f?.writeUnavailableMs)} | ${secs(f?.timeToNewPrimaryMs)} | ${num(d?.lost)} | ${num(d?.indeterminate)} | ${secs(v.checks.recovery?.recoveryMs)} | ${link ? `[report](${mdLink(link)})` : "–"} |`,
    );
  });
  const problems: string[] = [];
  for (const v of verdicts) {
    const who = `${v.scenario} (${v.profile}, ${v.startedAt})`;
    if (v.run.error) problems.push(`- **${mdCell(who)}** run error: ${mdCell(v.run.error)}`);
    for (const [name, c] of Object.entries(v.checks)) {
      if (c.valid === true) continue;
      const reasons = c.reasons?.length ? c.reasons : [c.error ?? "no reason given"];
      for (const r of reasons) problems.push(`- **${mdCell(who)}** \`${mdCell(name)}\` ${mdMark(c.valid)}: ${mdCell(r)}`);
    }
  }
  if (problems.length) lines.push("", ...problems);
  lines.push("");
  return lines.join("\n");
}

/**
 * Appends Markdown to the GitHub Actions job summary when $GITHUB_STEP_SUMMARY is set; returns whether it
 * did. Elsewhere it is a no-op, so callers need not know where they run.
 */
export function appendStepSummary(markdown: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const file = env.GITHUB_STEP_SUMMARY;
  if (!file) return false;
  appendFileSync(file, markdown.endsWith("\n") ? markdown : `${markdown}\n`);
  return true;
}
