import { z } from "zod";
import { FaultSpec } from "../faults/spec.ts";

/** A bound that may differ per profile: `30000` or `{ fast: 30000, default: 60000 }`. */
const PerProfile = z.union([z.number().positive(), z.record(z.string(), z.number().positive())]);

export const ScenarioSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
    description: z.string().min(1),
    platform: z.enum(["local", "kind", "minikube"]).default("local"),
    /** The HA stack: `patroni` (Debian 12's 3.0.2) or `patroni@<version>` (npm run scenario -- --list-stacks). */
    stack: z.string().default("patroni"),
    nodes: z.number().int().min(2).max(9).default(3),
    profile: z.string().default("fast"),
    sync: z.boolean().default(false),
    workload: z
      .object({
        writeIntervalMs: z.number().int().min(1).default(10),
        nodeProbeIntervalMs: z.number().int().min(10).default(100),
        connectTimeoutMs: z.number().int().min(50).default(1000),
        queryTimeoutMs: z.number().int().min(50).default(2000),
      })
      .strict()
      .prefault({}),
    /** Probes run this long before the first fault, so the history shows a healthy steady state. */
    warmupMs: z.number().int().min(0).default(3000),
    schedule: z
      .array(
        z
          .object({
            fault: FaultSpec,
            /** How long the fault lasts before it is healed; may differ per profile. */
            holdMs: z.union([z.number().int().min(0), z.record(z.string(), z.number().int().min(0))]).default(0),
            /** Pause after the heal before the next step. */
            afterMs: z.number().int().min(0).default(0),
          })
          .strict(),
      )
      .min(1),
    /** After the last heal: how long the cluster may take to be whole again (leader + all streaming). */
    recoveryTimeoutMs: z.number().int().min(1000).default(120_000),
    /** Probes keep running this long after recovery, so the history shows writes flowing again. */
    cooldownMs: z.number().int().min(0).default(2000),
    expect: z
      .object({
        maxWriteUnavailableMs: PerProfile.optional(),
        lostWrites: z.number().int().min(0).default(0),
        divergence: z.boolean().default(false),
        /** Whether two nodes accepting writes at once is expected (false: it fails the verdict). */
        splitBrain: z.boolean().default(false),
        /**
         * After a restore from backups (the disaster fault): the most time of acknowledged writes the restore may lose,
         * from the last write it brought back to the last acknowledged before the disaster.
         */
        maxRecoveryPointMs: z.number().int().positive().optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    // A restore needs a backup taken before the disaster, and a point-in-time target after that backup ended.
    const disasters = s.schedule.flatMap((x, i) => (x.fault.kind === "disaster" ? [i] : []));
    if (disasters.length > 1) {
      ctx.addIssue({ code: "custom", path: ["schedule", disasters[1]!, "fault"], message: "a scenario has at most one disaster: its checks judge one restore" });
    }
    // The shortest a step's hold can be (holds may differ per profile).
    const shortest = (h: number | Record<string, number>) => (typeof h === "number" ? h : Object.values(h).length === 0 ? 0 : Math.min(...Object.values(h)));
    s.schedule.forEach((step, i) => {
      if (step.fault.kind !== "disaster") return;
      const b = s.schedule.slice(0, i).findLastIndex((x) => x.fault.kind === "backup");
      if (b < 0) {
        ctx.addIssue({ code: "custom", path: ["schedule", i, "fault"], message: 'a disaster needs a backup earlier in the schedule to restore from: add a step { fault: { kind: "backup" } } before it' });
        return;
      }
      // From the backup's end: its own hold and pause, then every step's up to the disaster.
      const between = s.schedule.slice(b, i).reduce((ms, x) => ms + shortest(x.holdMs) + x.afterMs, 0);
      if (step.fault.pitrBeforeMs >= between) {
        ctx.addIssue({
          code: "custom",
          path: ["schedule", i, "fault", "pitrBeforeMs"],
          message: `the point-in-time target (${step.fault.pitrBeforeMs} ms before the disaster) must fall after the backup ended, ${between} ms before it: raise the backup step's afterMs above ${step.fault.pitrBeforeMs} or lower pitrBeforeMs`,
        });
      }
    });
  });

/** What a scenario file writes (defaults may be left out). */
export type ScenarioInput = z.input<typeof ScenarioSchema>;
/** A validated scenario with every default filled in. */
export type Scenario = z.output<typeof ScenarioSchema>;

/** Typed identity for scenario files: `export default defineScenario({ ... })`. */
export function defineScenario(s: ScenarioInput): ScenarioInput {
  return s;
}

/** The value for one profile ("fast+sync" falls back to "fast"). */
export function boundFor(b: number | Record<string, number> | undefined, profile: string): number | undefined {
  if (b === undefined || typeof b === "number") return b;
  return b[profile] ?? b[profile.split("+")[0]!];
}
