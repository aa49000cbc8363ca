import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { profileNames } from "../stack/patroni/profiles.ts";
import { UsageError } from "../util/errors.ts";

export const SUITE_DIR = resolve(import.meta.dirname, "../../suites");

/**
 * A suite is data: which scenarios, under which profiles, how many times each. A profile may carry
 * modifiers after a "+", as run names show them: "fast+sync" is the fast profile with synchronous mode.
 */
export const SuiteSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
    description: z.string().min(1),
    entries: z
      .array(
        z
          .object({
            scenario: z.string().min(1),
            profiles: z.array(z.string().min(1)).min(1),
            /** Runs per (scenario, profile); medians and p95s are taken over them. */
            repeat: z.number().int().min(1).max(50),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export type Suite = z.output<typeof SuiteSchema>;

/** Typed identity for suite files: `export default defineSuite({ ... })`. */
export function defineSuite(s: Suite): Suite {
  return s;
}

/** "fast+sync" → the profile name and the synchronous-mode switch runScenario takes. */
export function splitProfile(p: string): { profile: string; sync: boolean } {
  const [profile, ...mods] = p.split("+");
  const unknown = mods.filter((m) => m !== "sync");
  if (!profile || !profileNames().includes(profile) || unknown.length > 0) {
    throw new UsageError(`unknown profile "${p}": use one of ${profileNames().join(", ")}, optionally with "+sync"`);
  }
  return { profile, sync: mods.includes("sync") };
}

/** The baseline key of one (scenario, profile): "primary-kill/fast". */
export const entryKey = (scenario: string, profile: string) => `${scenario}/${profile}`;

export function listSuites(dir = SUITE_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

export async function loadSuite(name: string, dir = SUITE_DIR): Promise<Suite> {
  const file = join(dir, `${name}.ts`);
  if (!/^[\w-]+$/.test(name) || !existsSync(file)) {
    throw new UsageError(`unknown suite "${name}": available suites are ${listSuites(dir).join(", ") || "(none)"} (files in ${dir})`);
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (e) {
    throw new UsageError(`suite ${file} could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
  }
  const r = SuiteSchema.safeParse(mod.default);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `  - ${i.path.join(".") || "(top level)"}: ${i.message}`).join("\n");
    throw new UsageError(`suite ${file} is malformed:\n${problems}`);
  }
  if (r.data.name !== name) throw new UsageError(`suite ${file} is named "${r.data.name}": the name must match the file name "${name}"`);
  for (const e of r.data.entries) for (const p of e.profiles) splitProfile(p);
  return r.data;
}
