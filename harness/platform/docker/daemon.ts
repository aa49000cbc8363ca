import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execa } from "execa";
import { spawn } from "node:child_process";
import { join } from "node:path";
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
  /** Written by the run that started the daemon when it ended while other runs still used it: the last one stops it. */
  handover: "/run/pgchaos/docker/handed-over",
};

/** The label on everything a run creates (cluster.ts): the daemon is in use while a container or network carries it. */
export const RUN_LABEL = "io.pgchaos.run";

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

/**
 * The socket of a daemon that answers: the system's, the docker CLI's current context's (Docker Desktop's
 * ~/.docker/run/docker.sock, a rootless daemon's), or one of ours still running.
 */
export async function runningDaemonSocket(): Promise<string | undefined> {
  const context = await contextSocket();
  for (const socket of ["/var/run/docker.sock", ...(context ? [context] : []), OWN_DAEMON.socket]) {
    if (existsSync(socket) && (await answers(socket))) return socket;
  }
  return undefined;
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
  const running = await runningDaemonSocket();
  if (running === OWN_DAEMON.socket) {
    // Another run's daemon of ours: this run stops it only when that run handed it over and nothing else uses it.
    return { host: `unix://${running}`, socket: running, ours: false, stop: async () => void (await stopOwnDaemon({ started: false })) };
  }
  if (running) return { host: `unix://${running}`, socket: running, ours: false, stop: async () => undefined };
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
  rmSync(OWN_DAEMON.handover, { force: true });
  return { host: `unix://${OWN_DAEMON.socket}`, socket: OWN_DAEMON.socket, ours: true, stop: async () => void (await stopOwnDaemon({ started: true })) };
}

/**
 * Stops the daemon of ours unless a run still has containers or a network on it. The run that started it hands it over instead
 * (OWN_DAEMON.handover) when others still use it; a run on a daemon it found stops it only after such a handover,
 * once its own containers are gone and no other run's are left. Returns whether it stopped it.
 */
export async function stopOwnDaemon(opts: { started: boolean }): Promise<boolean> {
  const host = `unix://${OWN_DAEMON.socket}`;
  if (!opts.started && !existsSync(OWN_DAEMON.handover)) return false;
  const used = async (kind: string[]) => (await execa(DOCKER, ["-H", host, ...kind, "-q", "--filter", `label=${RUN_LABEL}`], { reject: false })).stdout.trim() !== "";
  if ((await used(["ps", "-a"])) || (await used(["network", "ls"]))) {
    if (opts.started) writeFileSync(OWN_DAEMON.handover, `${process.pid}\n`);
    return false;
  }
  const pid = existsSync(OWN_DAEMON.pidFile) ? Number(readFileSync(OWN_DAEMON.pidFile, "utf8").trim()) : NaN;
  rmSync(OWN_DAEMON.handover, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !processExists(pid)) return false;
  process.kill(pid, "SIGTERM");
  await waitFor({ condition: "dockerd to exit", where: OWN_DAEMON.socket, timeoutMs: 20_000, intervalMs: 100 }, async () => !processExists(pid)).catch(() => process.kill(pid, "SIGKILL"));
  await removeExecRoot();
  return true;
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
