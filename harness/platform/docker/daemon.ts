import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { execa } from "execa";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { DOCKER } from "../image.ts";
import { EnvironmentError } from "../../util/errors.ts";
import { processExists } from "../../util/pid.ts";
import { waitFor } from "../../util/wait.ts";

/** Where a Docker daemon of ours lives when the machine runs none (no init system starts one here). */
export const OWN_DAEMON = {
  socket: process.env.PGCHAOS_DOCKER_SOCKET ?? "/run/pgchaos/docker/docker.sock",
  dataRoot: process.env.PGCHAOS_DOCKER_DATA ?? "/var/lib/pgchaos/docker",
  execRoot: "/run/pgchaos/docker/exec",
  pidFile: "/run/pgchaos/docker/dockerd.pid",
  log: "/run/pgchaos/docker/dockerd.log",
  /** One file per process handle using the daemon (`<pid>-<random>`): the last one to go stops it. */
  users: "/run/pgchaos/docker/users",
  /** A directory made as a lock around finding, starting and stopping the daemon. */
  lock: "/run/pgchaos/docker/users.lock",
};

export const DOCKERD = "/usr/sbin/dockerd";

/** The Docker API at `socket` answers /_ping. */
export async function answers(socket: string, timeoutMs = 1000): Promise<boolean> {
  const { request } = await import("node:http");
  return new Promise((ok) => {
    const req = request({ socketPath: socket, path: "/_ping", timeout: timeoutMs }, (res) => {
      res.resume();
      ok(res.statusCode === 200);
    });
    req.on("error", () => ok(false));
    req.on("timeout", () => {
      req.destroy();
      ok(false);
    });
    req.end();
  });
}

export interface Daemon {
  /** unix:///... as DOCKER_HOST takes it. */
  host: string;
  socket: string;
  /** This process started it. */
  ours: boolean;
  /** Stops a daemon of ours when no run uses it any more (stopOwnDaemon); a no-op on anyone else's. */
  stop(): Promise<void>;
}

/** The socket of a daemon of someone else's that answers: the system's, or the docker CLI's current context's (Docker Desktop's ~/.docker/run/docker.sock, a rootless daemon's). */
async function foreignDaemonSocket(): Promise<string | undefined> {
  const context = await contextSocket();
  for (const socket of ["/var/run/docker.sock", ...(context ? [context] : [])]) {
    if (existsSync(socket) && (await answers(socket))) return socket;
  }
  return undefined;
}

/** The socket of a daemon that answers: someone else's (foreignDaemonSocket), or one of ours still running. */
export async function runningDaemonSocket(): Promise<string | undefined> {
  return (await foreignDaemonSocket()) ?? (existsSync(OWN_DAEMON.socket) && (await answers(OWN_DAEMON.socket)) ? OWN_DAEMON.socket : undefined);
}

/** The unix socket of the docker CLI's current context, where it names one. */
async function contextSocket(): Promise<string | undefined> {
  const r = await execa(DOCKER, ["context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], { reject: false, timeout: 5000 }).catch(() => undefined);
  const host = r?.exitCode === 0 ? r.stdout.trim() : "";
  return host.startsWith("unix://") ? host.slice("unix://".length) : undefined;
}

/**
 * The Docker daemon a run uses: DOCKER_HOST's, else the system's (/var/run/docker.sock), else the docker CLI's current
 * context's (Docker Desktop), else one of ours, started
 * now with its own socket and data root and without its iptables setup (`--iptables=false`): a default dockerd
 * turns on br_netfilter and may set the FORWARD policy to DROP, which cuts the local platform's bridged namespaces;
 * run networks are internal (no gateway) so nothing needs Docker's NAT rules.
 */
export async function ensureDaemon(signal?: AbortSignal): Promise<Daemon> {
  // Our own socket in DOCKER_HOST is ours to start again (testcontainers is pointed at it through DOCKER_HOST).
  const given = process.env.DOCKER_HOST === `unix://${OWN_DAEMON.socket}` ? undefined : process.env.DOCKER_HOST;
  if (given?.startsWith("unix://")) {
    const socket = given.slice("unix://".length);
    if (!(await answers(socket))) throw new EnvironmentError(`DOCKER_HOST=${given} does not answer: start that Docker daemon, or unset DOCKER_HOST to let pgchaos start one of its own`);
    return { host: given, socket, ours: false, stop: async () => undefined };
  }
  if (given) return { host: given, socket: "", ours: false, stop: async () => undefined };
  const foreign = await foreignDaemonSocket();
  if (foreign) return { host: `unix://${foreign}`, socket: foreign, ours: false, stop: async () => undefined };
  // Ours, found running or started now, under the lock: a run that finds it takes its lease before the last user can
  // stop it, and two runs never start two. A user without root may use it (its socket opened to them) but not manage it.
  if (process.getuid?.() !== 0 && (await answers(OWN_DAEMON.socket))) return { host: `unix://${OWN_DAEMON.socket}`, socket: OWN_DAEMON.socket, ours: false, stop: async () => undefined };
  return withUsersLock(async () => {
    const started = !(existsSync(OWN_DAEMON.socket) && (await answers(OWN_DAEMON.socket)));
    if (started) await startOwnDaemon(signal);
    const lease = takeLease();
    return { host: `unix://${OWN_DAEMON.socket}`, socket: OWN_DAEMON.socket, ours: started, stop: async () => void (await stopOwnDaemon(lease)) };
  });
}

async function startOwnDaemon(signal?: AbortSignal): Promise<void> {
  if (!existsSync(DOCKERD)) throw new EnvironmentError("no Docker daemon answers and dockerd is not installed: `npm run setup` installs docker.io (or start your Docker and set DOCKER_HOST)");
  if (process.getuid?.() !== 0) throw new EnvironmentError("no Docker daemon answers, and starting one needs root: run as root, or start Docker and set DOCKER_HOST");
  for (const d of [OWN_DAEMON.dataRoot, OWN_DAEMON.execRoot]) mkdirSync(d, { recursive: true, mode: 0o700 });
  // A daemon of ours that died leaves its pid file; dockerd refuses to start over a live one.
  const stale = existsSync(OWN_DAEMON.pidFile) ? Number(readFileSync(OWN_DAEMON.pidFile, "utf8").trim()) : undefined;
  if (stale && !processExists(stale)) rmSync(OWN_DAEMON.pidFile, { force: true });
  const out = openSync(OWN_DAEMON.log, "a");
  const child = spawn(
    DOCKERD,
    ["--host", `unix://${OWN_DAEMON.socket}`, "--data-root", OWN_DAEMON.dataRoot, "--exec-root", OWN_DAEMON.execRoot, "--pidfile", OWN_DAEMON.pidFile, "--iptables=false", "--ip-masq=false", "--bridge=none"],
    { stdio: ["ignore", out, out], detached: true },
  );
  closeSync(out);
  child.unref();
  let exited: string | undefined;
  child.once("exit", (code, sig) => (exited = `dockerd exited (${code ?? sig}): see ${OWN_DAEMON.log}`));
  await waitFor({ condition: "dockerd to answer", where: OWN_DAEMON.socket, timeoutMs: 30_000, intervalMs: 100, signal }, async () => {
    if (exited) throw new EnvironmentError(exited);
    return answers(OWN_DAEMON.socket);
  });
}

function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * Keeps a daemon of ours running for `what` after this process exits (`keep`), or gives that up (`!keep`): the next
 * run's stop then stops it when no other lease is live. A no-op where the daemon is not ours.
 */
export function keepDaemon(daemon: Daemon, what: string, keep: boolean): void {
  if (daemon.host !== `unix://${OWN_DAEMON.socket}`) return;
  const lease = join(OWN_DAEMON.users, `keep-${what}`);
  if (keep) {
    mkdirSync(OWN_DAEMON.users, { recursive: true, mode: 0o700 });
    writeFileSync(lease, "");
  } else {
    rmSync(lease, { force: true });
  }
}

function takeLease(): string {
  mkdirSync(OWN_DAEMON.users, { recursive: true, mode: 0o700 });
  const lease = join(OWN_DAEMON.users, `${process.pid}-${randomBytes(4).toString("hex")}`);
  writeFileSync(lease, "");
  return lease;
}

/**
 * Leases whose process lives; a dead process's lease (a crashed run) is removed. A lease named `keep-<what>` belongs to
 * no process: something that outlives the command that made it (a kind cluster of `npm run kind:cluster`) holds it
 * until it is given up (keepDaemon).
 */
function liveLeases(): string[] {
  const files = existsSync(OWN_DAEMON.users) ? readdirSync(OWN_DAEMON.users) : [];
  return files.filter((f) => {
    if (f.startsWith("keep-")) return true;
    if (processExists(Number(f.split("-")[0]))) return true;
    rmSync(join(OWN_DAEMON.users, f), { force: true });
    return false;
  });
}

/** Runs `fn` holding the users' lock (a directory; one left by a process that died 60 s ago or more is taken over). */
async function withUsersLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(OWN_DAEMON.lock), { recursive: true, mode: 0o700 });
  for (let waited = 0; ; waited += 50) {
    try {
      mkdirSync(OWN_DAEMON.lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const age = Date.now() - (statSync(OWN_DAEMON.lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 60_000) rmSync(OWN_DAEMON.lock, { recursive: true, force: true });
      else if (waited > 90_000) throw new EnvironmentError(`${OWN_DAEMON.lock} is held for more than 90 s: another pgchaos is starting or stopping its Docker daemon (remove the folder if none runs)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(OWN_DAEMON.lock, { recursive: true, force: true });
  }
}

/**
 * Gives up `lease` and stops the daemon of ours when no other live process holds one (the last user stops it, whoever
 * started it). Returns whether it stopped it.
 */
export async function stopOwnDaemon(lease: string): Promise<boolean> {
  return withUsersLock(async () => {
    rmSync(lease, { force: true });
    if (liveLeases().length > 0) return false;
    const pid = existsSync(OWN_DAEMON.pidFile) ? Number(readFileSync(OWN_DAEMON.pidFile, "utf8").trim()) : NaN;
    // Only our dockerd: a pid file outliving its daemon may name another process by now.
    if (!Number.isInteger(pid) || pid <= 0 || !processExists(pid) || commOf(pid) !== "dockerd") return false;
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(pid, sig);
      } catch {
        // Gone already.
      }
    };
    signal("SIGTERM");
    await waitFor({ condition: "dockerd to exit", where: OWN_DAEMON.socket, timeoutMs: 20_000, intervalMs: 100 }, async () => !processExists(pid)).catch(() => signal("SIGKILL"));
    await removeExecRoot();
    // No live lease is left (checked above, under the lock): the folder of dead ones goes too.
    rmSync(OWN_DAEMON.users, { recursive: true, force: true });
    return true;
  });
}

/**
 * dockerd leaves a bind mount of the host's network namespace in its exec root (netns/default) when it stops: unmount
 * it and remove the folder, so a stopped daemon of ours leaves no mount behind.
 */
export async function removeExecRoot(): Promise<void> {
  const netns = join(OWN_DAEMON.execRoot, "netns");
  for (const f of existsSync(netns) ? readdirSync(netns) : []) await execa("umount", [join(netns, f)], { reject: false });
  rmSync(OWN_DAEMON.execRoot, { recursive: true, force: true });
}

/** Mounts under our daemon's exec root: what a daemon of ours left (the leftovers check counts them). */
export function execRootMounts(): string[] {
  return readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((m) => m.startsWith(OWN_DAEMON.execRoot));
}
