import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { UsageError } from "../util/errors.ts";

/**
 * The baseline file (JSON), one per suite by default: suites/<suite>.baseline.json.
 *
 * {
 *   "description": "free text: where the numbers come from",
 *   "tolerance": { "relative": 0.5, "absoluteMs": 2000,
 *                  "figures": { "recoveryMs": { "relative": 1, "absoluteMs": 5000 } } },
 *   "scenarios": {
 *     "primary-kill/fast": { "writeUnavailableMs": { "median": 8431, "p95": 10216 }, ... }
 *   },
 *   "sources": { "primary-kill/fast": { "runs": 3, "updatedAt": "2026-11-22T19:00:00.000Z" } }
 * }
 *
 * A figure regresses when its median (or p95) over the suite's repeats is worse than the baseline's by
 * more than max(relative × baseline, absolute), where absolute is `absoluteMs` for figures in
 * milliseconds (names ending in "Ms") and `absolute` (default 0) for the others. Per-figure overrides in
 * `tolerance.figures` replace the fields they state. Lower is better for every figure except those in
 * HIGHER_IS_BETTER. Only the figures and statistics an entry lists are compared, so a baseline chooses
 * what is gated; `--update-baseline` writes GATED_FIGURES.
 */

const Margin = z
  .object({
    relative: z.number().min(0).optional(),
    absoluteMs: z.number().min(0).optional(),
    absolute: z.number().min(0).optional(),
  })
  .strict();

const Stats = z.object({ median: z.number().optional(), p95: z.number().optional() }).strict();

export const BaselineSchema = z
  .object({
    description: z.string().optional(),
    tolerance: z
      .object({
        relative: z.number().min(0),
        absoluteMs: z.number().min(0),
        absolute: z.number().min(0).optional(),
        figures: z.record(z.string(), Margin).optional(),
      })
      .strict(),
    scenarios: z.record(z.string().regex(/^[\w-]+\/[\w+-]+$/, 'keys are "<scenario>/<profile>"'), z.record(z.string(), Stats)),
    sources: z.record(z.string(), z.object({ runs: z.number().int().min(0), updatedAt: z.string() }).strict()).optional(),
  })
  .strict();

export type Baseline = z.output<typeof BaselineSchema>;
export type Tolerance = Baseline["tolerance"];
export type Stat = "median" | "p95";
export const STATS: readonly Stat[] = ["median", "p95"];

/** Figures --update-baseline records: client-visible failover behaviour, not harness overheads. */
export const GATED_FIGURES = ["writeUnavailableMs", "timeToNewPrimaryMs", "recoveryMs"] as const;
export const HIGHER_IS_BETTER = new Set(["writeRatePerSec"]);

export const DEFAULT_TOLERANCE: Tolerance = { relative: 0.5, absoluteMs: 2000 };

export function parseBaseline(raw: unknown, source: string): Baseline {
  const r = BaselineSchema.safeParse(raw);
  if (!r.success) {
    const why = (i: (typeof r.error.issues)[number]) => (i.code === "invalid_key" ? 'the key must be "<scenario>/<profile>"' : i.message);
    const problems = r.error.issues.map((i) => `  - ${i.path.join(".") || "(top level)"}: ${why(i)}`).join("\n");
    throw new UsageError(`baseline ${source} is malformed:\n${problems}\nSee harness/gate/baseline.ts for the format.`);
  }
  return r.data;
}

export function readBaseline(file: string): Baseline {
  if (!existsSync(file)) throw new UsageError(`baseline file ${file} does not exist`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UsageError(`baseline ${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseBaseline(raw, file);
}

export function writeBaseline(file: string, b: Baseline): void {
  const sortKeys = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).sort(([x], [y]) => x.localeCompare(y)));
  const out: Baseline = { ...b, scenarios: sortKeys(b.scenarios), ...(b.sources ? { sources: sortKeys(b.sources) } : {}) };
  writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
}

/** The allowed distance from a baseline value for one figure. */
export function marginFor(t: Tolerance, figure: string, base: number): { margin: number; relative: number; absolute: number } {
  const o = t.figures?.[figure] ?? {};
  const relative = o.relative ?? t.relative;
  const ms = figure.endsWith("Ms");
  const absolute = ms ? (o.absoluteMs ?? t.absoluteMs) : (o.absolute ?? t.absolute ?? 0);
  return { margin: Math.max(relative * Math.abs(base), absolute), relative, absolute };
}
