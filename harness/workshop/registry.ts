import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processExists } from "../util/pid.ts";
import { UsageError } from "../util/errors.ts";

/** Where running workshops say how to reach them (root only: the files hold each workshop's token). */
export const REGISTRY_DIR = process.env.PGCHAOS_WORKSHOP_DIR ?? "/run/pgchaos/workshops";

export interface Registration {
  pid: number;
  port: number;
  token: string;
  url: string;
  startedAt: string;
  /** Who runs it (SUDO_USER or USER): the class view's row. */
  learner: string;
}

export function register(r: Registration): string {
  mkdirSync(REGISTRY_DIR, { recursive: true, mode: 0o700 });
  chmodSync(REGISTRY_DIR, 0o700);
  const file = join(REGISTRY_DIR, `${r.pid}.json`);
  writeFileSync(file, JSON.stringify(r, null, 2), { mode: 0o600 });
  return file;
}

export function unregister(file: string): void {
  rmSync(file, { force: true });
}

/** Workshops whose process lives; files of dead ones are removed on the way. */
export function liveWorkshops(): Array<Registration & { file: string }> {
  if (!existsSync(REGISTRY_DIR)) return [];
  const out: Array<Registration & { file: string }> = [];
  for (const f of readdirSync(REGISTRY_DIR).filter((x) => x.endsWith(".json"))) {
    const file = join(REGISTRY_DIR, f);
    try {
      const r = JSON.parse(readFileSync(file, "utf8")) as Registration;
      if (processExists(r.pid)) out.push({ ...r, file });
      else unregister(file);
    } catch {
      // Half-written or foreign: not ours to use.
    }
  }
  return out;
}

/** The workshop `ws` talks to: PGCHAOS_WORKSHOP names it (a workshop shell sets it), else the only one running. */
export function findWorkshop(env = process.env): Registration {
  const named = env.PGCHAOS_WORKSHOP;
  if (named) {
    if (!existsSync(named)) throw new UsageError(`PGCHAOS_WORKSHOP names ${named}, which does not exist: that workshop ended. Unset it, or start one with \`npm run workshop\``);
    return JSON.parse(readFileSync(named, "utf8")) as Registration;
  }
  const live = liveWorkshops();
  if (live.length === 1) return live[0]!;
  if (live.length === 0) throw new UsageError("no workshop runs on this machine: start one with `npm run workshop`");
  throw new UsageError(`${live.length} workshops run here (${live.map((w) => `${w.learner}: ${w.file}`).join(", ")}): say which with PGCHAOS_WORKSHOP=FILE`);
}
