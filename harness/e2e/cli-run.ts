import { execa, type ResultPromise } from "execa";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");

/**
 * Runs the CLI as a user does (`npm run scenario -- ...` without npm's banner), from `cwd` (a checkout; this
 * one by default). It leads a process group of its own, so `interrupt` reaches it as a terminal's Ctrl-C does.
 */
export function cli(
  args: string[],
  opts: { reject?: boolean; timeout?: number; cwd?: string; env?: Record<string, string> } = {},
): ResultPromise<{ reject: boolean; all: true; cwd: string; timeout: number; detached: true; env: Record<string, string> }> {
  return execa("node", ["--import", "tsx", "harness/cli.ts", "scenario", ...args], {
    cwd: opts.cwd ?? ROOT,
    reject: opts.reject ?? false,
    all: true,
    timeout: opts.timeout ?? 300_000,
    detached: true,
    env: opts.env ?? {},
  });
}

/** SIGINT to the child's whole process group, as Ctrl-C in a terminal sends it; resolves with the ms to its exit. */
export async function interrupt<R extends ResultPromise>(child: R): Promise<{ ms: number; result: Awaited<R> }> {
  const t0 = performance.now();
  process.kill(-child.pid!, "SIGINT");
  const result = (await child) as Awaited<R>;
  return { ms: performance.now() - t0, result };
}

/**
 * A copy of this checkout in a folder only root can enter (mode 0700, as root's home and `mktemp -d` are),
 * as a user's clone would be: the tracked and untracked files git sees, with node_modules linked rather than
 * installed again. Returns its path.
 */
export function privateCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), "pgchaos-private-"));
  chmodSync(dir, 0o700);
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter((f) => f !== "");
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    try {
      copyFileSync(join(ROOT, f), join(dir, f));
    } catch {
      // Deleted in the work tree but still in the index.
    }
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/**
 * A copy of this checkout that any user can read (mode 0755), as a user without root has their clone: the files git
 * sees, with node_modules hard-linked (no second install, nothing of this checkout's changed). Returns its path.
 */
export function readableCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), "pgchaos-user-"));
  chmodSync(dir, 0o755);
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter((f) => f !== "");
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true, mode: 0o755 });
    try {
      copyFileSync(join(ROOT, f), join(dir, f));
      chmodSync(join(dir, f), 0o644 | 0o111 * Number(f.endsWith(".sh")));
    } catch {
      // Deleted in the work tree but still in the index.
    }
  }
  execFileSync("cp", ["-al", join(ROOT, "node_modules"), join(dir, "node_modules")]);
  return dir;
}

/** Resolves once the child's stderr has printed `text`. */
export function waitForOutput(child: ResultPromise, text: string | RegExp, timeoutMs: number): Promise<void> {
  return new Promise((res, rej) => {
    let buf = "";
    const t = setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms waiting for ${text} in output:\n${buf}`)), timeoutMs);
    const on = (chunk: Buffer) => {
      buf += chunk.toString();
      if (typeof text === "string" ? buf.includes(text) : text.test(buf)) {
        clearTimeout(t);
        child.stderr?.off("data", on);
        res();
      }
    };
    child.stderr?.on("data", on);
  });
}
