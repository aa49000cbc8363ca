import { execa, type ResultPromise } from "execa";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");

/** Runs the CLI as a user does (`npm run scenario -- ...` without npm's banner). */
export function cli(args: string[], opts: { reject?: boolean; timeout?: number } = {}): ResultPromise<{ reject: boolean; all: true; cwd: string; timeout: number }> {
  return execa("node", ["--import", "tsx", "harness/cli.ts", "scenario", ...args], {
    cwd: ROOT,
    reject: opts.reject ?? false,
    all: true,
    timeout: opts.timeout ?? 300_000,
  });
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
