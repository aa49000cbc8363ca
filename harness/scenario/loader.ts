import { readdirSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ScenarioSchema, type Scenario } from "./types.ts";
import { UsageError } from "../util/errors.ts";

export const SCENARIO_DIR = resolve(import.meta.dirname, "../../scenarios");

/** Scenario names: one `.ts` file each in the scenarios folder. */
export function listScenarios(dir = SCENARIO_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** Validates a scenario object; the error names the file and every field that is wrong. */
export function parseScenario(raw: unknown, source: string): Scenario {
  const r = ScenarioSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `  - ${i.path.join(".") || "(top level)"}: ${i.message}`).join("\n");
    throw new UsageError(`scenario ${source} is malformed:\n${problems}\nFix the file (see scenarios/README.md for the fields).`);
  }
  return r.data;
}

export async function loadScenario(name: string, dir = SCENARIO_DIR): Promise<Scenario> {
  const file = join(dir, `${name}.ts`);
  if (!/^[\w-]+$/.test(name) || !existsSync(file)) {
    const known = listScenarios(dir);
    const near = known.filter((k) => k.includes(name) || name.includes(k));
    throw new UsageError(
      `unknown scenario "${name}".` +
        (near.length ? ` Did you mean: ${near.join(", ")}?` : "") +
        ` Available: ${known.join(", ")}. List them with \`npm run scenario -- --list\`.`,
    );
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (e) {
    throw new UsageError(`scenario ${file} could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (mod.default === undefined) throw new UsageError(`scenario ${file} has no default export: end it with \`export default defineScenario({...})\``);
  const s = parseScenario(mod.default, file);
  if (s.name !== name) throw new UsageError(`scenario ${file} is named "${s.name}": the name must match the file name "${name}"`);
  return s;
}
