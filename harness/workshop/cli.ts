import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { abortOnSignals } from "../util/signals.ts";
import { EnvironmentError, UsageError, errorMessage } from "../util/errors.ts";
import { prepareOutDir } from "../util/out-dir.ts";
import { checkStackName } from "../stack/index.ts";
import { profileNames } from "../stack/patroni/profiles.ts";
import { getPlatform } from "../platform/index.ts";
import { sleep } from "../util/wait.ts";
import { EXERCISES, fillIn, textCommands } from "./exercises/index.ts";
import { Workshop } from "./workshop.ts";
import { serve, timelineSvgOf, type PagePayload, type PageSource } from "./server.ts";
import { register, unregister } from "./registry.ts";
import { ReplaySource } from "./replay.ts";
import { serveClass } from "./class.ts";
import type { Figures, Range } from "./types.ts";

const ROOT = resolve(import.meta.dirname, "../..");

const HELP = `pgchaos workshop: hands-on HA exercises on a live cluster, with a live page, checks, hints and reset

Usage:
  npm run workshop                       bring up a cluster, serve the page on 127.0.0.1, start exercise 1
  npm run workshop -- --exercise N       start at exercise N (1 to ${EXERCISES.length})
  npm run workshop -- --list             the exercises
  npm run workshop -- --check            preflight for a room's machine: root, namespaces, packages, a free subnet,
                                         one cluster brought up and one write acknowledged, then removed
  npm run workshop -- --solve            every exercise from its starting state, non-interactively: the check fails
                                         first, the solution runs, the check passes, the figures fall in range
  npm run workshop -- --replay DIR       play a stored run (a scenario's or a workshop's run directory) on the page
  npm run workshop -- --class            the instructor's view of every workshop on this machine: who is done or
                                         stuck per exercise, the class's measured failover times, pacing for all

Options:
  --stack NAME      patroni (Debian 12's 3.0.2, the default), patroni@4.0.7, patroni@4.1.5
  --profile NAME    ${profileNames().join(" | ")} (default fast)
  --port N          the page's port (default: one the system picks)
  --pace N          instructor pacing: exercises after N stay locked until \`ws pace M\`
  --speed X         --replay: play X times faster (default 1)
  --out DIR         where run directories go (default reports/)
  -h, --help        this help

In the workshop, the learner's helper: npm run ws -- <verb> (or \`ws\` in a member's shell: \`npm run ws -- shell n1\`).
Exit codes: 0 done (--solve: every exercise passed), 1 an exercise failed, 2 usage or environment error, 130 interrupted.
`;

export function parseWorkshopArgs(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        exercise: { type: "string" },
        list: { type: "boolean" },
        check: { type: "boolean" },
        solve: { type: "boolean" },
        replay: { type: "string" },
        class: { type: "boolean" },
        speed: { type: "string" },
        stack: { type: "string" },
        profile: { type: "string" },
        port: { type: "string" },
        pace: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError(`${errorMessage(e)}\nSee \`npm run workshop -- --help\`.`);
  }
  const o = parsed.values;
  const modes = [o.list && "--list", o.check && "--check", o.solve && "--solve", o.replay !== undefined && "--replay", o.class && "--class"].filter((m): m is string => typeof m === "string");
  if (modes.length > 1) throw new UsageError(`${modes.join(" and ")} do different things; give one of them`);
  const whole = (name: string, v: string | undefined, min: number, max: number) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} takes a whole number from ${min} to ${max}, got "${v}"`);
    return Number(v);
  };
  const exercise = whole("exercise", o.exercise, 1, EXERCISES.length);
  const port = whole("port", o.port, 1, 65535);
  const pace = whole("pace", o.pace, 1, EXERCISES.length);
  const speed = o.speed === undefined ? 1 : Number(o.speed);
  if (!(speed > 0 && speed <= 100)) throw new UsageError(`--speed takes a number above 0 and up to 100, got "${o.speed}"`);
  if (o.profile !== undefined && !profileNames().includes(o.profile)) throw new UsageError(`unknown profile "${o.profile}": choose one of ${profileNames().join(", ")}`);
  if (o.stack !== undefined) checkStackName(o.stack);
  if (o.speed !== undefined && o.replay === undefined) throw new UsageError("--speed is for --replay");
  return { ...o, exercise, port, pace, speed };
}

/** A live workshop as the page and `ws` see it. */
class LiveSource implements PageSource {
  readonly predictions = new Map<string, number>();

  constructor(private readonly w: Workshop) {}

  payload(): PagePayload {
    const w = this.w;
    const ready = w.snapshot !== undefined && w.baseline !== undefined;
    return {
      mode: "live",
      stack: w.opts.stack ?? "patroni",
      snapshot: w.snapshot,
      exercise: ready ? w.status() : undefined,
      events: w.events.slice(-40),
      timelineSvg: timelineSvgOf(w.historyEntries()),
      poll: { predictions: [...this.predictions].map(([who, seconds]) => ({ who, seconds })), measured: w.figures?.writesUnavailableS },
      results: Object.fromEntries(w.results),
    };
  }

  onChange(l: () => void) {
    return this.w.onChange(l);
  }

  shell(node: string) {
    return this.w.shellEnv(node);
  }

  async act(verb: string, a: Record<string, unknown>): Promise<unknown> {
    const w = this.w;
    const target = () => {
      if (typeof a.target !== "string" || a.target === "") throw new UsageError(`${verb} what? name primary, replica or a member (n1, n2, n3)`);
      return a.target;
    };
    const num = (v: unknown, what: string) => {
      const n = Number(v);
      if (v === undefined || v === "" || !Number.isFinite(n) || n < 0) throw new UsageError(`${what} must be a number of seconds, 0 or more (got ${JSON.stringify(v)})`);
      return n;
    };
    switch (verb) {
      case "kill":
        return w.kill(target(), a.down === undefined ? undefined : num(a.down, "--down"));
      case "stop":
        return w.stop(target());
      case "start":
        return w.startMember(target());
      case "pause":
        return w.pause(target());
      case "isolate":
        return w.isolate(target());
      case "kill-patroni":
        return w.killPart(target(), "patroni");
      case "kill-postgres":
        return w.killPart(target(), "postgres");
      case "heal":
        return w.healAll();
      case "check": {
        await w.fresh();
        const v = await w.runCheck();
        return v.ok ? `✓ ${v.detail ?? "done"}` : `✗ ${v.reason}`;
      }
      case "hint":
        return w.hint();
      case "skip":
        return (await w.skip()).join("\n");
      case "reset": {
        const r = await w.reset();
        return `reset in ${(r.ms / 1000).toFixed(1)} s: exercise ${w.index + 1} from its start on a new cluster. Open member shells belong to the old one: leave them and \`ws shell\` again`;
      }
      case "goto": {
        const n = Number(a.exercise);
        if (!Number.isInteger(n)) throw new UsageError("goto which exercise? a number");
        await w.startExercise(n - 1);
        return `exercise ${n}: ${w.exercise.title}`;
      }
      case "next":
        await w.startExercise(w.index + 1);
        return `exercise ${w.index + 1}: ${w.exercise.title}`;
      case "answer":
        return w.answer(String(a.key ?? ""), String(a.value ?? ""));
      case "predict": {
        const s = num(a.seconds, "the prediction");
        this.predictions.set(String(a.who ?? "you"), s);
        return w.predict(s);
      }
      case "wait": {
        if (a.what !== "new-leader" && a.what !== "whole" && a.what !== "settled") throw new UsageError("wait for what? new-leader, settled or whole");
        return w.waitFor(a.what, a.timeoutS === undefined ? undefined : num(a.timeoutS, "--timeout"));
      }
      case "figures":
        return w.measure();
      case "status":
        return { exercise: w.status(), snapshot: w.snapshot };
      case "addr":
        return w.live.addressOf(w.resolveTarget(String(a.target ?? "")));
      case "pace": {
        const n = Number(a.upTo);
        if (!Number.isInteger(n) || n < 1) throw new UsageError("pace up to which exercise? a number from 1");
        w.pace = n;
        return `exercises up to ${n} unlocked`;
      }
      default:
        throw new UsageError(`unknown verb "${verb}": see \`npm run ws -- help\``);
    }
  }
}

function figureLine(f: Figures | undefined, ranges: Partial<Record<keyof Figures, Range>> | undefined): { text: string; outOfRange: string[] } {
  const parts: string[] = [];
  const out: string[] = [];
  for (const [k, r] of Object.entries(ranges ?? {}) as Array<[keyof Figures, Range]>) {
    const v = f?.[k];
    parts.push(`${k} ${v ?? "?"} (${r.min}–${r.max})`);
    if (v === undefined || v < r.min || v > r.max) out.push(`${k} ${v ?? "not measured"} outside ${r.min}–${r.max}: ${r.why}`);
  }
  return { text: parts.join(", "), outOfRange: out };
}

/**
 * Every exercise from its start state, as a learner who knows the answers: the check must fail first with the
 * expected reason, every command of the text must run, the solution must make the check pass in time, and the
 * figures must fall in their ranges. One line per exercise.
 */
async function solveAll(w: Workshop, from: number, write: (s: string) => void, signal: AbortSignal): Promise<boolean> {
  let allOk = true;
  for (let i = from; i < EXERCISES.length; i++) {
    const ex = EXERCISES[i]!;
    const t0 = performance.now();
    const problems: string[] = [];
    let figures = "";
    try {
      if (i === from) await w.begin(i);
      else await w.startExercise(i);
      const first = await w.runCheck();
      if (first.ok) problems.push("the check passed before anything was done");
      else if (!ex.firstReason.test(first.reason)) problems.push(`the check failed first for another reason: ${first.reason}`);
      const values = { leader: w.baseline?.leader, target: w.baseline?.target, scope: w.snapshot!.scope, ttl: w.snapshot!.ttl };
      for (const cmd of textCommands(fillIn(ex.text, values))) {
        const r = await w.runCommand(cmd);
        if (r.exitCode !== 0) problems.push(`the text's command failed (exit ${r.exitCode}): ${cmd}: ${r.stderr.trim().split("\n").slice(-2).join(" ")}`);
      }
      await w.skip();
      const deadline = performance.now() + ex.settleS * 1000;
      let v = await w.runCheck();
      while (!v.ok && performance.now() < deadline) {
        await sleep(500, signal);
        v = await w.runCheck();
      }
      if (!v.ok) problems.push(`the check did not pass within ${ex.settleS} s of the solution: ${v.reason}`);
      else {
        const fl = figureLine(w.figures, ex.ranges?.(w.snapshot!.ttl));
        figures = fl.text;
        problems.push(...fl.outOfRange);
      }
    } catch (e) {
      if (signal.aborted) throw e;
      problems.push(errorMessage(e));
    }
    const ok = problems.length === 0;
    allOk &&= ok;
    write(`${ok ? "✓" : "✗"} ${String(i + 1).padStart(2)} ${ex.id.padEnd(18)} ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s  ${figures}${ok ? "" : `\n     ${problems.join("\n     ")}`}\n`);
  }
  return allOk;
}

async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const o = parseWorkshopArgs(argv);
  if (o.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (o.list) {
    EXERCISES.forEach((e, i) => process.stdout.write(`${String(i + 1).padStart(2)}  ${e.id.padEnd(18)} ${e.title}\n`));
    return 0;
  }
  const say = (l: string) => process.stderr.write(`${l}\n`);
  if (o.class) {
    const page = await serveClass({ port: o.port });
    say(`class view of every workshop on this machine: ${page.url}`);
    await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
    await page.close();
    return 130;
  }
  if (o.replay !== undefined) {
    const source = await ReplaySource.open(resolve(o.replay), o.speed);
    const page = await serve(source, { port: o.port, title: "pgchaos replay" });
    say(`replaying ${resolve(o.replay)} at ${o.speed}×: ${page.url}`);
    await Promise.race([source.done, new Promise((r) => signal.addEventListener("abort", r, { once: true }))]);
    if (!signal.aborted) {
      say("replay finished; the page stays until Ctrl-C");
      await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
    }
    source.stop();
    await page.close();
    return 130;
  }
  await getPlatform("local").preflight();
  const lacking = ["/usr/bin/curl", "/usr/bin/nsenter"].filter((b) => !existsSync(b));
  if (lacking.length > 0) throw new EnvironmentError(`the workshop needs ${lacking.join(" and ")} (the exercises use curl; \`ws\` in a member's shell uses nsenter): \`npm run setup\` installs them`);
  const outDir = prepareOutDir(o.out ?? join(ROOT, "reports"));
  const w = new Workshop({ stack: o.stack, profile: o.profile ?? "fast", outDir, signal, say, pace: o.pace });
  const source = new LiveSource(w);
  const page = await serve(source, { port: o.port, title: "pgchaos workshop" });
  const learner = process.env.SUDO_USER ?? process.env.USER ?? "root";
  const registryFile = register({ pid: process.pid, port: page.port, token: page.token, url: page.url, startedAt: new Date().toISOString(), learner });
  w.opts.registryFile = registryFile;
  try {
    if (o.check) {
      const t0 = performance.now();
      say("checking this machine: root, namespaces, packages, a free subnet, a cluster and one write");
      await w.begin(0);
      await w.waitFor("whole", 30);
      const ok = w.snapshot!.writes.ok;
      if (ok === 0) throw new EnvironmentError("the cluster came up but no write was acknowledged");
      process.stdout.write(`ok: a ${w.snapshot!.members.length}-member cluster came up and acknowledged ${ok} writes in ${((performance.now() - t0) / 1000).toFixed(1)} s; this machine is ready for the workshop\n`);
      return 0;
    }
    if (o.solve) {
      const ok = await solveAll(w, (o.exercise ?? 1) - 1, (s) => process.stdout.write(s), signal);
      process.stdout.write(ok ? `all ${EXERCISES.length - ((o.exercise ?? 1) - 1)} exercises passed\n` : "some exercises failed\n");
      return ok ? 0 : 1;
    }
    say(`bringing up the workshop cluster (exercise ${o.exercise ?? 1})...`);
    await w.begin((o.exercise ?? 1) - 1);
    process.stdout.write(`\nworkshop ready: open ${page.url}\n  a shell in member n1: npm run ws -- shell n1   (then \`ws help\`)\n  Ctrl-C ends the workshop and removes everything\n`);
    await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
    return 130;
  } finally {
    // No new action from the page or `ws` while the cluster goes.
    unregister(registryFile);
    await page.close();
    await w.close().catch((e) => {
      say(`teardown: ${errorMessage(e)}; \`npm run scenario -- --cleanup\` removes what is left`);
      tornDownCleanly = false;
    });
  }
}

const signal = abortOnSignals();
let tornDownCleanly = true;
let code: number;
try {
  code = await main(process.argv.slice(2), signal);
} catch (e) {
  if (signal.aborted) code = 130;
  else if (e instanceof UsageError || e instanceof EnvironmentError) {
    process.stderr.write(`pgchaos workshop: ${e.message}\n`);
    code = 2;
  } else {
    process.stderr.write(`pgchaos workshop: ${errorMessage(e)}\n`);
    code = 1;
  }
}
if (code === 130) {
  if (tornDownCleanly) process.stderr.write("workshop ended: the cluster and everything of it removed\n");
  process.exit(130);
}
process.exitCode = code;
