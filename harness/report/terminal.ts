import type { Verdict } from "../scenario/verdict.ts";
import type { CheckResult, Validity } from "../checkers/types.ts";

const useColour = (out: NodeJS.WriteStream) => Boolean(out.isTTY) && !process.env.NO_COLOR;

function mark(v: Validity, colour: boolean): string {
  const [text, code] = v === true ? ["PASS", 32] : v === false ? ["FAIL", 31] : ["UNKNOWN", 33];
  return colour ? `\x1b[${code}m${text}\x1b[0m` : text;
}

const secs = (ms: unknown) => (typeof ms === "number" ? `${(ms / 1000).toFixed(2)} s` : "-");

/** The headline figures of each check, in words. */
export function figures(name: string, c: CheckResult): string {
  switch (name) {
    case "failover":
      if (c.newPrimary !== undefined && c.newPrimary === c.oldPrimary) {
        return `writes unavailable ${secs(c.writeUnavailableMs)} at most, primary ${c.oldPrimary} kept`;
      }
      return `writes unavailable ${secs(c.writeUnavailableMs)}, ${c.oldPrimary ?? "?"} → ${c.newPrimary ?? "none"}, new primary writable after ${secs(c.timeToNewPrimaryMs)}`;
    case "dataLoss":
      return (
        `${c.acknowledged ?? "?"} acknowledged, ${c.lost ?? "?"} lost, ${c.indeterminate ?? "?"} indeterminate (${c.indeterminateCommitted ?? "?"} committed)` +
        (typeof c.lostDirect === "number" ? `; ${c.lostDirect} lost of those acknowledged directly by a node` : "")
      );
    case "divergence": {
      const ms = (c.members as Array<{ node: string; extra: number; missing: number; sameTimeline: boolean }> | undefined) ?? [];
      return `leader ${c.leader ?? "?"} tl ${c.leaderTimeline ?? "?"}; ` + (ms.map((m) => `${m.node}: +${m.extra}/-${m.missing}${m.sameTimeline ? "" : " other timeline"}`).join(", ") || "no members");
    }
    case "splitBrain": {
      const ws = (c.windows as Array<{ nodes: string[]; ms: number }> | undefined) ?? [];
      return ws.length === 0
        ? "no moment with two writable nodes"
        : `${ws.length} window(s) with two writable nodes, longest ${secs(c.maxWindowMs)}: ${ws.slice(0, 3).map((w) => `${w.nodes.join("+")} ${secs(w.ms)}`).join(", ")}`;
    }
    case "lag":
      return typeof c.maxLagBytes === "number" ? `replica lag before the fault ${c.maxLagBytes} bytes${c.bound === undefined ? " (no lag bound on failover)" : ` (maximum_lag_on_failover ${c.bound})`}` : "";
    case "recovery":
      return c.valid === true ? `whole again ${secs(c.recoveryMs)} after the last heal` : "";
    case "recoveryPoint":
      return (
        `restore lost ${secs(c.recoveryPointMs)} of acknowledged writes (${c.lostAfterRecoveryPoint ?? "?"} after write ${c.recoveryPointId ?? "none"}); ` +
        `recovery reached ${c.restoredToLsn ?? "?"}, archive ended in ${c.archiveEnd ?? "?"}; restore: writes back after ${secs(c.restoreMs)}, cluster whole after ${secs(c.restoreReadyMs)}`
      );
    case "pointInTime":
      return c.target === undefined ? "" : `restore to ${String(c.target)}: ${c.rows ?? "?"} writes, the last acknowledged before it write ${c.targetWrite ?? "none"}; took ${secs(c.ms)}`;
    default:
      return "";
  }
}

export function renderVerdict(v: Verdict, runDir: string, out: NodeJS.WriteStream = process.stdout): string {
  const colour = useColour(out);
  const lines = [
    "",
    `${v.scenario} on ${v.platform}${v.stack ? ` with ${v.stack}` : ""}, profile ${v.profile}: ${mark(v.valid, colour)}`,
  ];
  const rows = Object.entries(v.checks);
  const width = Math.max(10, ...rows.map(([n]) => n.length));
  for (const [name, c] of rows) {
    lines.push(`  ${name.padEnd(width)}  ${mark(c.valid, colour).padEnd(colour ? 16 : 7)}  ${figures(name, c)}`);
    for (const r of c.reasons ?? []) if (c.valid !== true) lines.push(`  ${"".padEnd(width)}  ↳ ${r}`);
  }
  const results = v.expectationResults ?? [];
  if (results.length > 0) {
    const word = (h: boolean | "unknown") => (h === true ? "held" : h === false ? "VIOLATED" : "unknown");
    lines.push(`  expectations: ${results.map((r) => `${r.expectation} ${r.expected} → ${r.observed} (${word(r.held)})`).join("; ")}`);
  }
  if (v.run.error) lines.push(`  run error: ${v.run.error}`);
  const w = v.run.writes;
  lines.push(
    `  probe: ${w.attempts} writes at ${w.ratePerSec}/s (${w.ok} ok, ${w.fail} failed, ${w.info} unknown); cluster ready ${secs(v.run.readyMs)}, teardown ${secs(v.run.teardownMs)}`,
    `  run directory: ${runDir}`,
    "",
  );
  return lines.join("\n");
}
