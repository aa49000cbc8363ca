import type { Validity } from "../checkers/types.ts";
import type { Verdict } from "../scenario/verdict.ts";
import { escXml } from "./escape.ts";
import { figures } from "./terminal.ts";

/**
 * JUnit XML, the format every CI reads. One <testsuite> per scenario run, one <testcase> per check.
 *
 * - true → a passing test case; false → <failure> with the check's reasons.
 * - "unknown" → <error type="unknown">, never <skipped>: a check that could not decide did not prove the
 *   run safe, and the CLI exits 1 for it, so CI must not show it as green or ignorable. (JUnit's "error"
 *   means "the test could not complete", which is what unknown is.)
 * - Each suite also has a `run` test case: an <error> when the run itself failed (deploy, teardown, Ctrl-C),
 *   so a run that never reached the checkers still shows up instead of as an empty suite.
 * - Times are seconds: the suite's is the run's wall time (sum of its phases); a check's is 0, since
 *   checkers are pure functions evaluated after the run; the `run` case carries the wall time too.
 * - The headline figures of each check go to its <system-out>.
 */

export interface JunitCase {
  name: string;
  classname: string;
  timeSec?: number;
  failure?: { message: string; type?: string; text?: string };
  error?: { message: string; type?: string; text?: string };
  skipped?: { message: string };
  systemOut?: string;
}

export interface JunitSuite {
  name: string;
  timestamp?: string;
  timeSec?: number;
  hostname?: string;
  properties?: Array<[string, string]>;
  cases: JunitCase[];
}

const a = (v: unknown) => escXml(v, true);
const t = (v: unknown) => escXml(v);
const sec = (s: number | undefined) => (s ?? 0).toFixed(3);

function caseXml(c: JunitCase): string {
  const body: string[] = [];
  const child = (tag: string, x: { message: string; type?: string; text?: string }) =>
    `      <${tag} message="${a(x.message)}"${x.type ? ` type="${a(x.type)}"` : ""}>${t(x.text ?? x.message)}</${tag}>`;
  if (c.failure) body.push(child("failure", c.failure));
  if (c.error) body.push(child("error", c.error));
  if (c.skipped) body.push(`      <skipped message="${a(c.skipped.message)}"/>`);
  if (c.systemOut) body.push(`      <system-out>${t(c.systemOut)}</system-out>`);
  const open = `    <testcase name="${a(c.name)}" classname="${a(c.classname)}" time="${sec(c.timeSec)}"`;
  return body.length ? `${open}>\n${body.join("\n")}\n    </testcase>` : `${open}/>`;
}

export function suiteXml(s: JunitSuite, id: number): string {
  const count = (p: (c: JunitCase) => boolean) => s.cases.filter(p).length;
  const attrs = [
    `name="${a(s.name)}"`,
    `id="${id}"`,
    `tests="${s.cases.length}"`,
    `failures="${count((c) => !!c.failure)}"`,
    `errors="${count((c) => !!c.error)}"`,
    `skipped="${count((c) => !!c.skipped)}"`,
    `time="${sec(s.timeSec)}"`,
    ...(s.timestamp ? [`timestamp="${a(s.timestamp)}"`] : []),
    ...(s.hostname ? [`hostname="${a(s.hostname)}"`] : []),
  ];
  const props = s.properties?.length
    ? `    <properties>\n${s.properties.map(([k, v]) => `      <property name="${a(k)}" value="${a(v)}"/>`).join("\n")}\n    </properties>\n`
    : "";
  return `  <testsuite ${attrs.join(" ")}>\n${props}${s.cases.map(caseXml).join("\n")}${s.cases.length ? "\n" : ""}  </testsuite>`;
}

/** A whole JUnit document from suites; totals on <testsuites> are the sums. */
export function junitDocument(suites: JunitSuite[], name = "pgchaos"): string {
  const all = suites.flatMap((s) => s.cases);
  const time = suites.reduce((sum, s) => sum + (s.timeSec ?? 0), 0);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="${a(name)}" tests="${all.length}" failures="${all.filter((c) => !!c.failure).length}" errors="${all.filter((c) => !!c.error).length}" skipped="${all.filter((c) => !!c.skipped).length}" time="${sec(time)}">\n` +
    suites.map((s, i) => suiteXml(s, i)).join("\n") +
    (suites.length ? "\n" : "") +
    `</testsuites>\n`
  );
}

const validityText = (v: Validity) => (v === true ? "PASS" : v === false ? "FAIL" : "UNKNOWN");

/** The stack a run ran, its version and its package's checksum, where the run recorded them. */
function stackProperties(v: Verdict): Array<[string, string]> {
  const info = v.settings?.stackInfo as { name?: string; version?: string; package?: { version?: string; sha256?: string } } | undefined;
  const out: Array<[string, string]> = [];
  if (v.stack) out.push(["stack", v.stack]);
  if (info?.version) out.push(["stackVersion", info.version]);
  if (info?.package?.version) out.push(["stackPackage", info.package.version]);
  if (info?.package?.sha256) out.push(["stackSha256", info.package.sha256]);
  return out;
}

/** The JUnit suite of one run. */
export function verdictSuite(v: Verdict): JunitSuite {
  const classname = `pgchaos.${v.scenario}.${v.profile}`;
  const wallSec = v.run.phases.reduce((s, p) => s + p.ms, 0) / 1000;
  const cases: JunitCase[] = [];
  cases.push({
    name: "run",
    classname,
    timeSec: wallSec,
    ...(v.run.error ? { error: { message: v.run.error, type: v.run.interrupted ? "interrupted" : "run-error" } } : {}),
    systemOut: `${v.run.writes.attempts} writes at ${v.run.writes.ratePerSec}/s (${v.run.writes.ok} ok, ${v.run.writes.fail} failed, ${v.run.writes.info} unknown)`,
  });
  for (const [name, c] of Object.entries(v.checks)) {
    const reasons = c.reasons?.length ? c.reasons : c.error ? [c.error] : [];
    const text = [`${name}: ${validityText(c.valid)}`, ...reasons].join("\n");
    const headline = figures(name, c);
    cases.push({
      name,
      classname,
      timeSec: 0,
      ...(c.valid === false ? { failure: { message: reasons.join("; ") || `${name} failed`, type: "check-failed", text } } : {}),
      ...(c.valid === "unknown" ? { error: { message: reasons.join("; ") || `${name} could not decide`, type: "unknown", text } } : {}),
      ...(headline ? { systemOut: headline } : {}),
    });
  }
  return {
    name: `${v.scenario} (${v.profile}) ${v.startedAt}`,
    timestamp: v.startedAt.replace(/Z$/, ""),
    timeSec: wallSec,
    properties: [
      ["scenario", v.scenario],
      ["profile", v.profile],
      ["platform", v.platform],
      ...stackProperties(v),
      ...(v.runId ? ([["runId", v.runId]] as Array<[string, string]>) : []),
      ["valid", validityText(v.valid)],
    ],
    cases,
  };
}

/** One <testsuite> per scenario run, one <testcase> per check (plus `run`), in one document. */
export function renderJunit(verdicts: readonly Verdict[], extra: JunitSuite[] = []): string {
  return junitDocument([...verdicts.map(verdictSuite), ...extra]);
}
