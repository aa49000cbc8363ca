import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { errorMessage, UsageError } from "../util/errors.ts";
import { findWorkshop, type Registration } from "./registry.ts";

const HELP = `ws: the learner's helper of a pgchaos workshop

  ws status                      the exercise, its check, and the members
  ws shell [MEMBER]              a shell in the member's network (patronictl, etcdctl, psql, curl set up); n1 by default
  ws exec MEMBER -- COMMAND...   one command there
  ws kill TARGET [--down S]      SIGKILL of the member's pod; it starts again after S s (the ttl + 5 by default)
  ws stop TARGET                 graceful stop (Patroni stops PostgreSQL); \`ws start\` starts it
  ws start MEMBER                start its Patroni (after a stop or a kill-patroni, or a new member)
  ws kill-patroni TARGET         SIGKILL of Patroni alone: PostgreSQL runs on
  ws kill-postgres TARGET        SIGKILL of PostgreSQL alone: Patroni starts it again
  ws pause TARGET                SIGSTOP of Patroni and PostgreSQL (\`ws heal\` thaws)
  ws isolate TARGET              cut the member off from its peers, etcd and the clients
  ws heal                        undo every fault
  ws wait new-leader|settled|whole  wait for another leader; for one leader to hold the key for a ttl; for every
                                 member to stream
  ws check | hint | skip         the exercise's check; the next hint; run its solution
  ws next | goto N | reset       the next exercise; exercise N; a fresh cluster for this exercise
  ws answer KEY VALUE            answer an exercise's question
  ws predict SECONDS             predict the outage before a fault
  ws figures [NAME]              what the checkers measured in this exercise
  ws addr MEMBER                 a member's address
  ws log MEMBER                  the end of the member's Patroni log
  ws pace N                      (instructor) unlock exercises up to N
TARGET is primary, replica or a member (n1, n2, n3).
`;

async function call(w: Registration, verb: string, body: Record<string, unknown> = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${w.port}/api/${verb}`, { method: "POST", headers: { "content-type": "application/json", "x-pgchaos-token": w.token }, body: JSON.stringify(body) });
  } catch (e) {
    throw new UsageError(`the workshop on port ${w.port} does not answer (${errorMessage(e)}): has it ended?`);
  }
  const j = (await res.json().catch(() => ({}))) as { ok?: boolean; out?: unknown; error?: string };
  if (!res.ok) {
    if (res.status === 400) throw new UsageError(j.error ?? res.statusText);
    throw new Error(j.error ?? res.statusText);
  }
  return j.out;
}

async function shellEnv(w: Registration, node: string): Promise<{ netns: string; cwd: string; env: Record<string, string> }> {
  const res = await fetch(`http://127.0.0.1:${w.port}/api/shell?node=${encodeURIComponent(node)}`, { headers: { "x-pgchaos-token": w.token } });
  const j = (await res.json()) as { error?: string; netns: string; cwd: string; env: Record<string, string> };
  if (!res.ok) throw new UsageError(j.error ?? res.statusText);
  return j;
}

function print(out: unknown): void {
  if (out === undefined || out === null) return;
  process.stdout.write(typeof out === "string" ? `${out}\n` : `${JSON.stringify(out, null, 2)}\n`);
}

export async function ws(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "help" || verb === "--help" || verb === "-h") {
    process.stdout.write(HELP);
    return verb === undefined ? 2 : 0;
  }
  const w = findWorkshop();
  const one = (what: string) => {
    if (rest[0] === undefined || rest[0].startsWith("-")) throw new UsageError(`ws ${verb} needs ${what}: \`ws help\``);
    return rest[0];
  };
  switch (verb) {
    case "shell":
    case "exec": {
      const node = verb === "shell" ? (rest[0] ?? "n1") : one("a member");
      const sh = await shellEnv(w, node);
      let argvInNs: string[];
      if (verb === "shell") argvInNs = ["bash", "--norc", "-i"];
      else {
        const dash = rest.indexOf("--");
        const cmd = dash >= 0 ? rest.slice(dash + 1) : rest.slice(1);
        if (cmd.length === 0) throw new UsageError("ws exec MEMBER -- COMMAND...: no command given");
        argvInNs = cmd;
      }
      if (verb === "shell") process.stderr.write(`a shell in ${node}'s network; patronictl, etcdctl, psql and curl talk to ${node}. \`ws help\` lists what you can do; exit leaves.\n`);
      const r = spawnSync("ip", ["netns", "exec", sh.netns, ...argvInNs], { stdio: "inherit", env: sh.env, cwd: sh.cwd });
      return r.status ?? 1;
    }
    case "kill": {
      const i = rest.indexOf("--down");
      const down = i >= 0 ? rest[i + 1] : undefined;
      if (i >= 0 && down === undefined) throw new UsageError("--down needs a number of seconds");
      print(await call(w, "kill", { target: one("a target (primary, replica, n1...)"), ...(down !== undefined ? { down } : {}) }));
      return 0;
    }
    case "stop":
    case "start":
    case "pause":
    case "isolate":
    case "kill-patroni":
    case "kill-postgres":
      print(await call(w, verb, { target: one("a target (primary, replica, n1...)") }));
      return 0;
    case "heal":
    case "check":
    case "hint":
    case "skip":
    case "next":
    case "reset":
      print(await call(w, verb));
      return 0;
    case "status": {
      const s = (await call(w, "status")) as { exercise: { index: number; title: string; check?: { ok: boolean; reason?: string; detail?: string } }; snapshot?: { members: Array<{ name: string; role: string; state: string; timeline?: number; lagBytes?: number }> } };
      const c = s.exercise.check;
      process.stdout.write(`exercise ${s.exercise.index}: ${s.exercise.title}\n  check: ${c ? (c.ok ? `✓ ${c.detail ?? ""}` : `✗ ${c.reason}`) : "not checked yet"}\n`);
      for (const m of s.snapshot?.members ?? []) process.stdout.write(`  ${m.name}  ${m.role.padEnd(12)} ${m.state.padEnd(10)} tl ${m.timeline ?? "-"}  lag ${m.lagBytes ?? "-"}\n`);
      return 0;
    }
    case "goto":
      print(await call(w, "goto", { exercise: one("an exercise number") }));
      return 0;
    case "answer":
      if (rest.length < 2) throw new UsageError("ws answer KEY VALUE");
      print(await call(w, "answer", { key: rest[0], value: rest.slice(1).join(" ") }));
      return 0;
    case "predict":
      print(await call(w, "predict", { seconds: one("a number of seconds"), who: process.env.SUDO_USER ?? process.env.USER ?? "you" }));
      return 0;
    case "wait":
      print(await call(w, "wait", { what: one("new-leader, settled or whole") }));
      return 0;
    case "figures": {
      const f = (await call(w, "figures")) as Record<string, number | undefined>;
      if (rest[0] !== undefined) {
        if (!(rest[0] in f)) throw new UsageError(`no figure "${rest[0]}" measured (there are: ${Object.keys(f).join(", ") || "none yet"})`);
        print(String(f[rest[0]]));
      } else print(f);
      return 0;
    }
    case "addr":
      print(await call(w, "addr", { target: one("a member") }));
      return 0;
    case "log": {
      const sh = await shellEnv(w, one("a member"));
      const lines = readFileSync(join(sh.cwd, "log", "patroni.log"), "utf8").trimEnd().split("\n").slice(-30);
      print(lines.join("\n"));
      return 0;
    }
    case "pace":
      print(await call(w, "pace", { upTo: one("an exercise number") }));
      return 0;
    default:
      throw new UsageError(`unknown verb "${verb}": \`ws help\` lists them`);
  }
}

if (import.meta.filename === process.argv[1]) {
  try {
    process.exitCode = await ws(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`ws: ${errorMessage(e)}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}
