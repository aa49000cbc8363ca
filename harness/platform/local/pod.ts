import { listProcesses, podInit, signalAll, spawnInNetns, waitGone, withDescendants, type Spawned } from "./procs.ts";

export interface PodSpec {
  netns: string;
  user: string;
  /** Patroni's command line. */
  argv: string[];
  logFile: string;
  env: Record<string, string>;
  /** The member's data directory: identifies its postmaster. */
  dataDir: string;
  pgBinDir: string;
  /** PostgreSQL's own folder, where a postmaster started through PostgreSQL's pg_ctl (repmgr's) runs from. */
  realPgBinDir?: string;
  /** Working directory of everything in the pod: a folder `user` can enter. */
  cwd: string;
}

/**
 * PID 1 of a pod: starts its command, then only reaps (each `sleep` it waits for makes the shell call
 * wait(), which collects any orphan), and starts its command again on SIGUSR1. Unlike Patroni as PID 1, it
 * outlives Patroni, so Patroni can be killed alone while PostgreSQL keeps running, as on a host where
 * Patroni is a service of its own, and started again as the init's own child.
 *
 * Starting it again from outside (nsenter into the namespaces) was tried and is wrong: nsenter stays behind
 * as Patroni's parent in the host's PID namespace and, by design, stops itself whenever its child stops. After
 * a pause fault it stayed stopped, could not reap its child, and the kernel then waited forever for that
 * zombie when the pod was killed: a pod that "survived SIGKILL".
 */
const INIT_SCRIPT = 'trap \'"$@" &\' USR1; "$@" & while :; do sleep 1 & wait $!; done';

export type PodPart = "patroni" | "postgres" | "all";

/**
 * A node's processes in a PID namespace of their own, like a pod: SIGKILL of its init makes the kernel
 * kill and reap everything inside at once.
 */
export class Pod {
  private proc?: Spawned;

  constructor(private readonly spec: PodSpec) {}

  start(): number {
    this.proc = spawnInNetns({
      netns: this.spec.netns,
      pidns: true,
      user: this.spec.user,
      argv: ["/bin/sh", "-c", INIT_SCRIPT, "pod-init", ...this.spec.argv],
      logFile: this.spec.logFile,
      env: this.spec.env,
      cwd: this.spec.cwd,
    });
    return this.proc.pid;
  }

  /** True while the pod (its namespace's init) lives. */
  get running(): boolean {
    return this.proc?.running() ?? false;
  }

  /** Every process of ours that has to end before the run can finish. */
  get spawned(): Spawned[] {
    return this.proc ? [this.proc] : [];
  }

  private init(): number | undefined {
    return this.proc?.running() ? podInit(this.proc.pid) : undefined;
  }

  /**
   * The host PID of the pod's init while it runs: a command that must see the pod's processes as they see each other
   * (a pid file they wrote holds PIDs of the pod's namespace) enters its namespaces through it.
   */
  initPid(): number | undefined {
    return this.init();
  }

  /** Host PIDs of the pod's processes (not its init, not its `sleep`), with their command lines. */
  private members() {
    if (!this.proc?.running()) return [];
    const procs = listProcesses();
    const init = podInit(this.proc.pid, procs);
    if (init === undefined) return [];
    const pids = new Set(withDescendants([init], procs).filter((p) => p !== init));
    return procs.filter((p) => pids.has(p.pid) && !/^sleep\b/.test(p.cmdline));
  }

  private isPatroni = (p: { cmdline: string }) => p.cmdline.includes(this.spec.argv.join(" ")) && !p.cmdline.startsWith("/bin/sh");
  private isPostmaster = (p: { cmdline: string }) =>
    [this.spec.pgBinDir, this.spec.realPgBinDir].some((d) => d !== undefined && p.cmdline.startsWith(`${d}/postgres `)) && p.cmdline.includes(this.spec.dataDir);

  patroniPid(): number | undefined {
    return this.members().find(this.isPatroni)?.pid;
  }

  postmasterPid(): number | undefined {
    return this.members().find(this.isPostmaster)?.pid;
  }

  /** Whether Patroni and the postmaster run, from one look at the process table (the workshop asks twice a second). */
  parts(): { patroni: boolean; postgres: boolean } {
    const m = this.members();
    return { patroni: m.some(this.isPatroni), postgres: m.some(this.isPostmaster) };
  }

  /** PIDs of one part: Patroni alone, or the postmaster with every backend, or all of the pod's processes. */
  pids(part: PodPart): number[] {
    if (part === "all") return this.members().map((p) => p.pid);
    if (part === "patroni") return [this.patroniPid()].filter((p): p is number => p !== undefined);
    const pm = this.postmasterPid();
    return pm === undefined ? [] : withDescendants([pm]);
  }

  /** Pod kill: SIGKILL of init; the kernel kills the rest. Resolves when the pod is gone. */
  async kill(timeoutMs = 5000): Promise<void> {
    const proc = this.proc;
    if (!proc?.running()) return;
    const init = this.init();
    signalAll([init ?? proc.pid], "SIGKILL");
    const gone = await Promise.race([proc.exited.then(() => true), delay(timeoutMs).then(() => false)]);
    if (!gone) throw new Error(`pod ${this.spec.netns} survived SIGKILL for ${timeoutMs} ms`);
  }

  /**
   * Graceful stop, as a drain does: SIGTERM to Patroni, which stops PostgreSQL and releases its leader key,
   * then the empty pod is removed.
   */
  async stop(timeoutMs = 60_000): Promise<{ postgresOutlivedPatroni: boolean }> {
    const patroni = this.patroniPid();
    if (patroni !== undefined) {
      signalAll([patroni], "SIGTERM");
      const left = await waitGone([patroni], timeoutMs);
      if (left.length > 0) throw new Error(`patroni in ${this.spec.netns} did not stop within ${timeoutMs} ms of SIGTERM`);
    }
    let outlived = false;
    const pm = this.postmasterPid();
    if (pm !== undefined && (await waitGone([pm], 5000)).length > 0) {
      // Seen with a Patroni that adopted a running postmaster (after a Patroni-only kill): it exits on
      // SIGTERM without stopping PostgreSQL. A pod's termination continues regardless: the remaining
      // processes get a fast shutdown (SIGINT to the postmaster) within the grace period, then SIGKILL.
      outlived = true;
      signalAll([pm], "SIGINT");
      await waitGone([pm], 30_000);
    }
    await this.kill();
    return { postgresOutlivedPatroni: outlived };
  }

  /** SIGKILL of one part only; Patroni restarts a killed PostgreSQL, a killed Patroni stays dead. */
  async killPart(part: Exclude<PodPart, "all">): Promise<number[]> {
    const pids = this.pids(part);
    if (pids.length === 0) throw new Error(`no ${part} process runs in ${this.spec.netns}`);
    signalAll(pids, "SIGKILL");
    const left = await waitGone(pids, 5000);
    if (left.length > 0) throw new Error(`${part} processes ${left.join(", ")} in ${this.spec.netns} survived SIGKILL`);
    return pids;
  }

  pause(part: PodPart): number[] {
    const pids = this.pids(part);
    signalAll(pids, "SIGSTOP");
    return pids;
  }

  /** SIGCONT to every process of the pod: idempotent, and safe if pause only reached some of them. */
  resume(): void {
    signalAll(this.members().map((p) => p.pid), "SIGCONT");
  }

  /**
   * Starts Patroni again inside the living pod (after a Patroni-only kill; it adopts the running postmaster):
   * the pod's init starts it as its own child on SIGUSR1.
   */
  startPatroni(): void {
    const init = this.init();
    if (init === undefined) throw new Error(`pod ${this.spec.netns} is not running`);
    signalAll([init], "SIGUSR1");
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
