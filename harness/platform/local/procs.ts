import { spawn } from "node:child_process";
import { openSync, closeSync, readFileSync, readdirSync } from "node:fs";
import { execa } from "execa";

export interface SpawnSpec {
  /** Network namespace; the root namespace when absent. */
  netns?: string;
  argv: string[];
  /** Run as this user (initdb refuses root). */
  user?: string;
  /**
   * Give the process a PID namespace of its own, as a container has: it runs as PID 1 there, and when it
   * dies the kernel kills and reaps everything else inside. Pod-kill semantics, and no orphan is ever
   * left to a host init that may not reap (this machine's does not).
   */
  pidns?: boolean;
  logFile: string;
  env?: Record<string, string>;
  /**
   * Working directory; "/" when absent. Never the caller's: a checkout in a private folder (root's home, a
   * `mktemp -d`) is closed to `user`, and initdb, run by Patroni as postgres, fails to start in it.
   */
  cwd?: string;
}

export interface Spawned {
  pid: number;
  /** Resolves with the exit code or signal when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running: () => boolean;
}

/**
 * Starts a long-running server inside a namespace. `ip netns exec` and `setpriv` both exec, so without
 * `pidns` the PID we get is the server's own; with it, the PID is unshare's and the server is its only
 * child (see `podInit`). It runs in its own process group: Ctrl-C reaches only pgchaos, which heals and
 * tears down in order.
 */
export function spawnInNetns(spec: SpawnSpec): Spawned {
  const argv: string[] = spec.pidns ? ["unshare", "--pid", "--fork", "--mount-proc"] : [];
  if (spec.netns) argv.push("ip", "netns", "exec", spec.netns);
  if (spec.user) argv.push("setpriv", `--reuid=${spec.user}`, `--regid=${spec.user}`, "--init-groups", "--");
  argv.push(...spec.argv);
  const fd = openSync(spec.logFile, "a");
  const child = spawn(argv[0]!, argv.slice(1), {
    detached: true,
    cwd: spec.cwd ?? "/",
    stdio: ["ignore", fd, fd],
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", LC_ALL: "C.UTF-8", ...spec.env },
  });
  closeSync(fd);
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
    child.once("error", () => {
      alive = false;
      resolve({ code: -1, signal: null });
    });
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${spec.argv[0]} in ${spec.netns ?? "the root namespace"}`);
  return { pid: child.pid, exited, running: () => alive };
}

/**
 * Runs a command to its end in a network namespace as `user`, with a clean environment plus `env`: exit code and
 * output (a command that cannot start gives code 127 and the reason in stderr). Killed after `timeoutMs`.
 */
export async function execInNetns(
  netns: string,
  user: string,
  argv: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string; podInit?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  // Inside a pod, in its PID and mount namespaces too: a pid file there names PIDs of the pod's namespace, which a
  // command outside would take for other processes (pg_autoctl then removes a live keeper's pid file as stale).
  const enter = opts.podInit !== undefined ? ["nsenter", `--target=${opts.podInit}`, "--pid", "--mount", "--net", "--"] : ["ip", "netns", "exec", netns];
  return execEntered(enter, user, argv, opts);
}

/** Runs a command to its end on this machine (no namespace of a node) as `user`, as execInNetns does in one. */
export function execAs(user: string, argv: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return execEntered([], user, argv, opts);
}

async function execEntered(
  enter: string[],
  user: string,
  argv: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  // The deadline is enforced inside the namespaces too: nsenter forwards no signal to the child it forked, so killing it
  // alone would leave the command running in the pod, holding its output open.
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const inner = ["timeout", "-s", "KILL", `${Math.max(1, Math.ceil(timeoutMs / 1000))}s`];
  const all = [...enter, "setpriv", `--reuid=${user}`, `--regid=${user}`, "--init-groups", "--", ...inner, ...argv];
  const r = await execa(all[0]!, all.slice(1), {
    reject: false,
    cwd: opts.cwd ?? "/",
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", LC_ALL: "C.UTF-8", ...opts.env },
    extendEnv: false,
    timeout: timeoutMs + 2000,
    input: opts.input,
    stdin: opts.input === undefined ? "ignore" : undefined,
  });
  // timeout(1) says 137 for a command it killed.
  const killed = r.timedOut || r.exitCode === 137;
  const code = typeof r.exitCode === "number" ? r.exitCode : r.timedOut ? 124 : 127;
  const stderr = killed ? `${r.stderr}\n(killed after ${timeoutMs} ms)` : r.stderr;
  return { code, stdout: r.stdout, stderr };
}

/** True if the PID exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stateOf(stat) !== "Z";
  } catch {
    return false;
  }
}

/** The state letter of a /proc/<pid>/stat line (the command may contain spaces and parentheses). */
export function stateOf(stat: string): string {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? "";
}

export function parentOf(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string;
}

/**
 * Every live process, with its parent. The command line is read when first asked for: callers walk the tree by
 * parent and look at a few command lines, and the harness polls this during bring-up (reading every process's
 * command line too doubled the cost of each look).
 */
export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      if (stateOf(stat) === "Z") continue;
      out.push(lazyCmdline({ pid: Number(d), ppid: parentOf(stat) }));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

function lazyCmdline(p: { pid: number; ppid: number }): ProcInfo {
  let cmdline: string | undefined;
  return Object.defineProperty(p, "cmdline", {
    enumerable: true,
    get: () => {
      if (cmdline === undefined) {
        try {
          cmdline = readFileSync(`/proc/${p.pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
        } catch {
          cmdline = ""; // It ended since: nothing of it to match.
        }
      }
      return cmdline;
    },
  }) as ProcInfo;
}

/** The first child of `pid`: for a `pidns` spawn, the PID 1 of that namespace as the host sees it. */
export function podInit(pid: number, procs: ProcInfo[] = listProcesses()): number | undefined {
  return procs.find((p) => p.ppid === pid)?.pid;
}

/** The PIDs given plus all their descendants, parents first. */
export function withDescendants(roots: number[], procs: ProcInfo[] = listProcesses()): number[] {
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const queue = [...roots];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Processes whose command line mentions `marker` (a run's work directory), with descendants. */
export function processesMentioning(marker: string): number[] {
  const procs = listProcesses();
  const roots = procs.filter((p) => p.pid !== process.pid && p.cmdline.includes(marker)).map((p) => p.pid);
  return withDescendants(roots, procs);
}

export function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Waits until none of the PIDs is alive; returns those still alive at the deadline. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  let left = pids.filter(isAlive);
  while (left.length > 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    left = left.filter(isAlive);
  }
  return left;
}

export interface PostmasterPid {
  pid: number;
  dataDir: string;
  port: number;
  socketDir: string;
  /** SysV shared memory id, if the postmaster made a segment. */
  shmId?: number;
}

/** Parses postmaster.pid (PostgreSQL's pidfile.h documents its lines). */
export function parsePostmasterPid(text: string): PostmasterPid | undefined {
  const lines = text.split("\n");
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const shm = (lines[6] ?? "").trim().split(/\s+/);
  const shmId = shm.length === 2 ? Number(shm[1]) : NaN;
  return {
    pid,
    dataDir: lines[1] ?? "",
    port: Number(lines[3]),
    socketDir: lines[4] ?? "",
    shmId: Number.isInteger(shmId) ? shmId : undefined,
  };
}

export function readPostmasterPid(dataDir: string): PostmasterPid | undefined {
  try {
    return parsePostmasterPid(readFileSync(`${dataDir}/postmaster.pid`, "utf8"));
  } catch {
    return undefined;
  }
}

/** A SIGKILLed postmaster leaves its SysV segment behind (LOCAL-PLATFORM-NOTES, pitfall 3). */
export async function removeShm(shmId: number | undefined): Promise<void> {
  if (shmId === undefined) return;
  await execa("ipcrm", ["-m", String(shmId)], { reject: false });
}
