import { accessSync, constants, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UsageError, errorMessage } from "./errors.ts";

/**
 * Makes sure `dir` is (or can be made) a folder pgchaos can write into, before anything starts: creates it
 * one level at a time and writes a probe file. Node's recursive mkdir loops forever on some paths (under
 * /proc, for one), so it is never used on a path a user gave. Throws a UsageError naming the path and why.
 */
export function prepareOutDir(dir: string, option = "--out"): string {
  const abs = resolve(dir);
  const missing: string[] = [];
  let existing = abs;
  for (;;) {
    try {
      const st = statSync(existing);
      if (!st.isDirectory()) throw new UsageError(`${option} ${dir}: ${existing} exists and is not a folder. Give a folder to write run directories into.`);
      break;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      if (!["ENOENT", "ENOTDIR"].includes((e as NodeJS.ErrnoException).code ?? "")) throw new UsageError(`${option} ${dir}: cannot look at ${existing}: ${errorMessage(e)}`);
      missing.unshift(existing);
      const up = dirname(existing);
      if (up === existing) break;
      existing = up;
    }
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new UsageError(`${option} ${dir}: cannot create ${d}: ${errorMessage(e)}. Give a folder you can write to.`);
      }
    }
  }
  try {
    accessSync(abs, constants.W_OK);
    const probe = join(abs, `.pgchaos-write-test-${process.pid}`);
    writeFileSync(probe, "");
    rmSync(probe, { force: true });
  } catch (e) {
    throw new UsageError(`${option} ${dir}: cannot write into ${abs}: ${errorMessage(e)}. Give a folder you can write to.`);
  }
  return abs;
}
