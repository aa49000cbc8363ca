import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where each live run records what it created, so `--cleanup` can remove what a crashed run left. */
export const STATE_DIR = process.env.PGCHAOS_STATE_DIR ?? "/run/pgchaos";
/** Node data lives outside the report directory: it is large and removed at teardown unless --keep. */
export const WORK_ROOT = process.env.PGCHAOS_WORK_ROOT ?? "/var/tmp/pgchaos";

export interface RunState {
  runId: string;
  ownerPid: number;
  startedAt: string;
  workDir: string;
  netns: string[];
  links: string[];
  keep: boolean;
}

export function writeState(s: RunState): void {
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(join(STATE_DIR, `${s.runId}.json`), JSON.stringify(s, null, 2));
}

export function removeState(runId: string): void {
  rmSync(join(STATE_DIR, `${runId}.json`), { force: true });
}

export function readStates(): RunState[] {
  let files: string[];
  try {
    files = readdirSync(STATE_DIR).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  const out: RunState[] = [];
  for (const f of files) {
    try {
      out.push(JSON.parse(readFileSync(join(STATE_DIR, f), "utf8")) as RunState);
    } catch {
      // A state file cut short by a crash: the sweep by name prefix still finds its objects.
    }
  }
  return out;
}
