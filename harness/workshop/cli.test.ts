import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../e2e/cli-run.ts";
import { EXERCISES } from "./exercises/index.ts";

const empty = mkdtempSync(join(tmpdir(), "pgchaos-ws-none-"));
afterAll(() => rmSync(empty, { recursive: true, force: true }));
const run = (script: string, args: string[], env: Record<string, string> = {}) =>
  execa("node", ["--import", "tsx", `harness/workshop/${script}`, ...args], { cwd: ROOT, reject: false, env: { PGCHAOS_WORKSHOP_DIR: empty, ...env }, timeout: 30_000 });

describe("npm run workshop: bad input is refused before anything starts", () => {
  it.each([
    [["--exercise", "0"], `--exercise takes a whole number from 1 to ${EXERCISES.length}, got "0"`],
    [["--exercise", "x"], "--exercise takes a whole number"],
    [["--solve", "--check"], "--check and --solve do different things"],
    [["--profile", "slowest"], 'unknown profile "slowest"'],
    [["--stack", "patroni@9"], "patroni@9"],
    [["--speed", "2"], "--speed is for --replay"],
    [["--replay", "/nonexistent"], "not a run directory"],
    [["--frobnicate"], "Unknown option '--frobnicate'"],
  ])("%j", async (args, message) => {
    const r = await run("cli.ts", args);
    expect(r.stderr).toContain(message);
    expect(r.exitCode).toBe(2);
  }, 30_000);

  it("--list names every exercise in order", async () => {
    const r = await run("cli.ts", ["--list"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/)[1])).toEqual(EXERCISES.map((e) => e.id));
  }, 30_000);
});

describe("ws, the learner's helper", () => {
  it("says how to start a workshop when none runs", async () => {
    const r = await run("ws.ts", ["kill", "primary"]);
    expect(r.stderr).toContain("no workshop runs on this machine: start one with `npm run workshop`");
    expect(r.exitCode).toBe(2);
  }, 30_000);

  it("says which workshop a stale PGCHAOS_WORKSHOP names", async () => {
    const r = await run("ws.ts", ["status"], { PGCHAOS_WORKSHOP: join(empty, "gone.json") });
    expect(r.stderr).toMatch(/PGCHAOS_WORKSHOP names .*gone\.json, which does not exist/);
    expect(r.exitCode).toBe(2);
  }, 30_000);

  it("says when the workshop it was told of does not answer", async () => {
    const file = join(empty, "dead.json");
    writeFileSync(file, JSON.stringify({ pid: 1, port: 1, token: "x", url: "", startedAt: "", learner: "t" }));
    const r = await run("ws.ts", ["heal"], { PGCHAOS_WORKSHOP: file });
    expect(r.stderr).toContain("does not answer");
    expect(r.exitCode).toBe(2);
  }, 30_000);

  it("prints its verbs", async () => {
    const r = await run("ws.ts", ["help"]);
    expect(r.exitCode).toBe(0);
    for (const verb of ["shell", "kill", "kill-patroni", "isolate", "heal", "hint", "skip", "reset", "predict", "answer"]) expect(r.stdout).toMatch(new RegExp(`\\b${verb}\\b`));
  }, 30_000);
});
