import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { assertUsableBy } from "./access.ts";
import type { Logger } from "pino";
import type { Cluster, ClusterBackups, ClusterSpec, Endpoint, Member } from "../types.ts";
import { haproxyConfig, PG_PORT, type HaproxyCheck } from "../../stack/patroni/config.ts";
import { RoleCheck } from "./role-check.ts";
import { defaultPatroniStack } from "../../stack/patroni/default.ts";
import type { HaStack } from "../../stack/types.ts";
import type { LocalBackups, LocalNode as StackNode, LocalRun, LocalStackParts } from "../../stack/local.ts";
import { waitFor } from "../../util/wait.ts";
import { startOrTearDown } from "../start-or-teardown.ts";
import { waitPatroniReady } from "../ready.ts";
import { errorMessage, UsageError } from "../../util/errors.ts";
import { newRunId, nodeName, pickSubnet, runNames, type Subnet } from "./names.ts";
import { createTopology, linkExists, removeTopology, ruleComment, usedPrefixes } from "./net.ts";
import { NodeNetworks } from "../node-network.ts";
import { execa } from "execa";
import {
  processesMentioning,
  readPostmasterPid,
  removeShm,
  signalAll,
  execAs,
  execInNetns,
  spawnInNetns,
  waitGone,
  withDescendants,
  type Spawned,
} from "./procs.ts";
import { PG_BIN_DIR } from "./preflight.ts";
import { endBringUp, initdbCacheDir, makeRunBinDir, stageInitdbCopies, unstageInitdbCopies } from "./pg-bin.ts";
import { removeOrphanSegments } from "./shm.ts";
import { Pod, type PodPart } from "./pod.ts";
import { removeState, writeState, WORK_ROOT, type RunState } from "./state.ts";

interface LocalNode {
  name: string;
  index: number;
  netns: string;
  address: string;
  dir: string;
  dataDir: string;
  logDir: string;
  pod: Pod;
  log: Logger;
  /** The node as the stack sees it. */
  handle: StackNode;
}

const SERVICE_PORT = 5432;

/** Removes what a folder holds, keeping the folder itself (its owner and mode); nothing when it does not exist. */
function emptyDir(dir: string): void {
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) rmSync(join(dir, entry), { recursive: true, force: true });
}

export class LocalCluster implements Cluster {
  readonly platform = "local";
  readonly nodes: readonly string[];
  readonly serviceHosts: readonly string[];
  readonly primaryService: Endpoint;
  readonly settings: Record<string, unknown>;
  readonly credentials: { user: string; password: string; database: string };
  private readonly byName = new Map<string, LocalNode>();
  /** The stack's service hosts (a monitor): machines with an address and a namespace, but no member. */
  private readonly services = new Map<string, Omit<LocalNode, "pod">>();
  private roleCheck?: RoleCheck;
  /** What runs on the nodes (Patroni of the version the run asked for), and its parts on this platform. */
  readonly stack: HaStack;
  private readonly parts: LocalStackParts;
  private haproxy?: Spawned;
  private tornDown = false;
  private logsCollected = false;
  /** PostgreSQL's programs as the agents call them, and the mark that says the bring-up is under way (pg-bin.ts). */
  private readonly binDir: string;
  private readonly bringUpMark: string;

  private constructor(
    readonly spec: ClusterSpec,
    readonly runId: string,
    readonly subnet: Subnet,
    readonly workDir: string,
    passwords: { superuser: string; replication: string; rewind: string },
    private readonly log: Logger,
  ) {
    const names = runNames(runId);
    this.binDir = join(workDir, "pgbin");
    this.bringUpMark = join(workDir, "bringing-up");
    const stack = spec.stack ?? defaultPatroniStack();
    this.stack = stack;
    const handle = (i: number, name: string): StackNode => {
      const dir = join(workDir, name);
      const netns = names.netns(i);
      return {
        name,
        address: subnet.nodeAddress(i),
        dir,
        dataDir: join(dir, "data"),
        logDir: join(dir, "log"),
        spawn: (argv, opts) => spawnInNetns({ netns, argv, ...opts }),
        exec: (argv, opts = {}) =>
          execInNetns(netns, "postgres", argv, { cwd: dir, env: { HOME: dir, ...opts.env }, timeoutMs: opts.timeoutMs, input: opts.input, podInit: this.byName.get(name)?.pod.initPid() }),
      };
    };
    const handles: StackNode[] = [];
    for (let i = 1; i <= spec.nodes; i++) handles.push(handle(i, nodeName(i)));
    const serviceHandles: StackNode[] = [];
    this.nodes = handles.map((h) => h.name);
    this.primaryService = { host: subnet.bridgeAddress, port: SERVICE_PORT };
    this.credentials = { user: "postgres", password: passwords.superuser, database: "postgres" };
    const run: LocalRun = {
      runId,
      workDir,
      archive: spec.archive ?? false,
      onHost: {
        exec: (argv, opts = {}) => execAs("postgres", argv, { cwd: workDir, env: opts.env, timeoutMs: opts.timeoutMs, input: opts.input }),
        spawn: (argv, opts) => {
          this.assertNotTornDown(argv[0]!);
          return spawnInNetns({ argv, ...opts, cwd: workDir });
        },
      },
      nodes: handles,
      services: serviceHandles,
      subnetCidr: subnet.cidr,
      pgBinDir: this.binDir,
      passwords,
      credentials: this.credentials,
      endpoint: (node) => this.endpoint(node),
      readyTimeoutMs: spec.readyTimeoutMs ?? 60_000,
      log,
      signal: spec.signal,
      assertNotTornDown: (what) => this.assertNotTornDown(what),
    };
    this.parts = stack.local(spec.profile, run);
    // Service hosts take the addresses after the members'.
    for (const [k, name] of (this.parts.serviceHosts ?? []).entries()) {
      if (this.nodes.includes(name)) throw new Error(`${stack.info.name} asks for a service host named ${name}, which is a member's name`);
      const index = spec.nodes + k + 1;
      const h = handle(index, name);
      serviceHandles.push(h);
      this.services.set(name, { name, index, netns: names.netns(index), address: h.address, dir: h.dir, dataDir: h.dataDir, logDir: h.logDir, handle: h, log: log.child({ node: name }) });
    }
    this.serviceHosts = serviceHandles.map((h) => h.name);
    handles.forEach((handle, i) => {
      const agent = this.parts.agent(handle);
      const netns = names.netns(i + 1);
      const pod = new Pod({ netns, user: "postgres", argv: agent.argv, logFile: agent.logFile, env: agent.env, dataDir: handle.dataDir, pgBinDir: this.binDir, realPgBinDir: PG_BIN_DIR, cwd: handle.dir });
      this.byName.set(handle.name, { name: handle.name, index: i + 1, netns, address: handle.address, dir: handle.dir, dataDir: handle.dataDir, logDir: handle.logDir, handle, pod, log: log.child({ node: handle.name }) });
    });
    this.settings = this.parts.settings;
    if (spec.archive && !this.parts.backups) throw new UsageError(`${stack.info.name} keeps no backups on the local platform: a scenario with a backup or a disaster needs Patroni`);
    if (this.parts.backups) this.backups = this.localBackups(this.parts.backups);
  }

  readonly backups?: ClusterBackups;

  private localBackups(b: LocalBackups): ClusterBackups {
    return {
      settings: b.settings,
      fullBackup: async () => {
        const leader = (await this.members()).find((m) => m.role === "leader");
        if (!leader) throw new Error("no leader to back up: the cluster has none now");
        return b.fullBackup(this.node(leader.name).handle);
      },
      archiveEnd: () => b.archiveEnd(),
      destroyAll: async () => {
        for (const n of this.byName.values()) await this.killNode(n.name);
        // Every member's data, as a lost site or a deleted volume takes it; the folder itself stays, owned by postgres.
        for (const n of this.byName.values()) {
          emptyDir(n.dataDir);
          n.log.info("data directory emptied");
        }
        await b.forget();
      },
      restoreLatest: async () => {
        b.useRestoreBootstrap(this.agentOwner());
        await Promise.all(this.nodes.map((n) => this.startNode(n)));
      },
      restoreToTime: (target) => b.restoreToTime(target),
    };
  }

  /** Creates the namespaces and starts etcd, Patroni and haproxy; tears down whatever it made on failure. */
  static async deploy(spec: ClusterSpec): Promise<LocalCluster> {
    const runId = newRunId();
    const subnet = pickSubnet(await usedPrefixes());
    const workDir = join(WORK_ROOT, runId);
    const secret = () => randomBytes(18).toString("base64url");
    const log = spec.logger.child({ runId });
    const cluster = new LocalCluster(
      spec,
      runId,
      subnet,
      workDir,
      { superuser: secret(), replication: secret(), rewind: secret() },
      log,
    );
    return startOrTearDown(cluster, log, () => cluster.start());
  }

  /** Every machine of the run: the members' and the stack's service hosts. */
  private hosts(): Array<Omit<LocalNode, "pod">> {
    return [...this.byName.values(), ...this.services.values()];
  }

  private state(): RunState {
    const names = runNames(this.runId);
    return {
      runId: this.runId,
      ownerPid: process.pid,
      startedAt: new Date().toISOString(),
      workDir: this.workDir,
      netns: this.hosts().map((n) => n.netns),
      links: [names.bridge, ...this.hosts().map((n) => names.vethHost(n.index))],
      keep: this.spec.keep ?? false,
    };
  }

  private async start(): Promise<void> {
    // Record first: a crash from here on leaves something `--cleanup` can find.
    writeState(this.state());
    const { uid: pgUid, gid: pgGid } = this.agentOwner();
    mkdirSync(this.workDir, { recursive: true });
    // Whatever the umask: the postgres user must get through the work folders to its node's own.
    for (const d of [dirname(this.workDir), this.workDir]) chmodSync(d, 0o755);
    makeRunBinDir({ dir: this.binDir, realDir: PG_BIN_DIR, bringUpMark: this.bringUpMark, initdbCache: { dir: initdbCacheDir(), owner: { uid: pgUid, gid: pgGid }, record: join(this.workDir, "bring-up-template") } });
    writeFileSync(this.bringUpMark, "");
    for (const n of this.hosts()) {
      mkdirSync(n.logDir, { recursive: true });
      for (const d of [n.dir, n.logDir]) chownSync(d, pgUid, pgGid);
      for (const f of this.parts.nodeFolders) {
        mkdirSync(join(n.dir, f.name), { recursive: true, mode: f.mode });
        if (f.owner === "agent") chownSync(join(n.dir, f.name), pgUid, pgGid);
      }
    }
    assertUsableBy("postgres", [
      ...[...this.byName.values()].flatMap((n) => [
        { path: n.dir, need: "w" as const, what: `node ${n.name}'s folder` },
        { path: n.logDir, need: "w" as const, what: `node ${n.name}'s logs` },
      ]),
      ...this.parts.programs.map((p) => ({ path: p.path, need: "x" as const, what: p.what })),
    ]);
    // Copies of the cached initdb output, made while the network and etcd start (pg-bin.ts).
    const staging = stageInitdbCopies(initdbCacheDir(), [...this.byName.values()].map((n) => n.dir), this.spec.signal);
    staging.catch(() => undefined);
    await createTopology(this.runId, this.subnet, this.spec.nodes + this.services.size);
    this.log.info({ subnet: this.subnet.cidr }, "network created");

    const members = [...this.byName.values()].map((n) => ({ name: n.name, address: n.address }));
    const timeoutMs = this.spec.readyTimeoutMs ?? 60_000;
    const dcs = this.parts.dcs;
    await dcs?.startAll();
    this.parts.backups?.prepare({ uid: pgUid, gid: pgGid });
    for (const n of this.byName.values()) this.parts.writeNodeFiles(n.handle, { uid: pgUid, gid: pgGid });
    // The agents start once the DCS has quorum. Started while etcd 3.4 still elects, Patroni 3.0.2 can read a
    // half-started member's answer as garbage ("Failed to get list of machines ... ValueError") and sleeps 5 s
    // ("waiting on etcd"): measured in 2 of 6 bring-ups, for 0.4 s saved in the others. Started as every
    // later start is: an agent that exits during its start is started again.
    if (dcs) {
      await dcs.waitQuorum();
      this.log.info(`${dcs.name} quorum`);
    }
    await staging;
    const start = (node: string) => this.startNode(node);
    const started = this.parts.bringUp ? this.parts.bringUp(start) : Promise.all(this.nodes.map(start));
    started.catch(() => undefined);

    const haproxyCfg = join(this.workDir, "haproxy.cfg");
    let check: HaproxyCheck;
    if (this.parts.primaryCheck === "read-write") {
      this.roleCheck = await RoleCheck.start({ bind: this.subnet.bridgeAddress, nodes: this.nodes, endpoint: (n) => this.endpoint(n), credentials: this.credentials });
      check = this.roleCheck.haproxyCheck();
    } else {
      check = this.parts.primaryCheck;
    }
    writeFileSync(haproxyCfg, haproxyConfig({ bind: this.primaryService.host, port: this.primaryService.port, members, pidFile: join(this.workDir, "haproxy.pid"), check }));
    this.haproxy = spawnInNetns({
      argv: ["/usr/sbin/haproxy", "-db", "-f", haproxyCfg],
      logFile: join(this.workDir, "haproxy.log"),
    });
    await started;
    const { leader } = await this.waitReady({ timeoutMs, reason: "bring-up", signal: this.spec.signal });
    endBringUp(this.bringUpMark);
    unstageInitdbCopies([...this.byName.values()].map((n) => n.dir));
    await this.parts.afterBringUp(leader);
  }

  private owner?: { uid: number; gid: number };

  /** The postgres user's uid and gid, which own the agents' files (asked of the system once). */
  private agentOwner(): { uid: number; gid: number } {
    this.owner ??= { uid: Number(execFileSync("id", ["-u", "postgres"]).toString().trim()), gid: Number(execFileSync("id", ["-g", "postgres"]).toString().trim()) };
    return this.owner;
  }

  /** Nothing is started once teardown began: a fault still running after Ctrl-C must not leave a process. */
  private assertNotTornDown(what: string): void {
    if (this.tornDown) throw new Error(`not starting ${what}: the cluster is being torn down`);
  }

  private spawnPatroni(n: LocalNode): void {
    this.assertNotTornDown(`the pod of ${n.name}`);
    // A new pod gets its folders like a container's /run: empty (see LocalStackParts.nodeFolders).
    for (const f of this.parts.nodeFolders.filter((x) => x.ephemeral)) {
      emptyDir(join(n.dir, f.name));
    }
    // And the postmaster.pid a killed pod left is stale by construction (nothing of it runs), but names a PID of its
    // namespace that this pod's hands out again at once: PostgreSQL (started by repmgr's pg_ctl, or pg_autoctl) would
    // take that process for a live postmaster and refuse to start. Seen with repmgr: "lock file postmaster.pid
    // already exists ... Is another postmaster (PID 9) running". On a host, PIDs after a reboot are rarely the same.
    rmSync(join(n.dataDir, "postmaster.pid"), { force: true });
    const pid = n.pod.start();
    n.log.info({ pid }, "pod started");
  }

  private node(name: string): LocalNode {
    const n = this.byName.get(name);
    if (!n) throw new Error(`no node "${name}" in this cluster (nodes: ${this.nodes.join(", ")})`);
    return n;
  }

  /** A member's machine or a service host. */
  private host(name: string): Omit<LocalNode, "pod"> {
    const n = this.byName.get(name) ?? this.services.get(name);
    if (!n) throw new Error(`no node "${name}" in this cluster (nodes: ${[...this.nodes, ...this.serviceHosts].join(", ")})`);
    return n;
  }

  endpoint(node: string): Endpoint {
    return { host: this.node(node).address, port: PG_PORT };
  }

  isNodeRunning(node: string): boolean {
    const pod = this.node(node).pod;
    return pod.running && pod.patroniPid() !== undefined;
  }

  async members(): Promise<Member[]> {
    const running = [...this.byName.values()].filter((n) => n.pod.running).map((n) => n.name);
    if (running.length === 0) throw new Error("no member's agent answers: none running");
    return this.stack.members(this.parts.api, running);
  }

  async waitReady(opts: { timeoutMs?: number; reason?: string; signal?: AbortSignal } = {}): Promise<{ ms: number; leader: string }> {
    const r = await waitPatroniReady(
      {
        nodes: this.nodes,
        credentials: this.credentials,
        members: () => this.members(),
        endpoint: (n) => this.endpoint(n),
        dcsLeader: this.parts.dcs ? () => this.dcsLeader() : undefined,
        blocked: (n) => (this.node(n).pod.running ? undefined : `the pod of ${n} is not running: see ${join(this.node(n).logDir, "patroni.log")}`),
        missing: (n) => {
          const pod = this.node(n).pod;
          return !pod.running ? "pod not running" : pod.patroniPid() === undefined ? "Patroni not running in its pod" : "Patroni runs but has no member key";
        },
      },
      { timeoutMs: opts.timeoutMs ?? this.spec.readyTimeoutMs ?? 60_000, where: `cluster pgchaos-${this.runId}${opts.reason ? ` (${opts.reason})` : ""}`, signal: opts.signal },
    );
    this.log.info({ ms: Math.round(r.ms), leader: r.leader }, "cluster ready");
    return r;
  }

  async killNode(node: string): Promise<void> {
    const n = this.node(node);
    const shmId = readPostmasterPid(n.dataDir)?.shmId;
    const creators = n.pod.pids("all");
    // SIGKILL of the namespace's PID 1 makes the kernel kill Patroni, the postmaster and every backend
    // at once, as a container runtime does on a pod kill.
    await n.pod.kill();
    await removeShm(shmId);
    await removeOrphanSegments({ creators, dataDirs: [n.dataDir] });
    n.log.info("node killed");
  }

  async stopNode(node: string): Promise<void> {
    const n = this.node(node);
    const r = await n.pod.stop();
    if (r.postgresOutlivedPatroni) n.log.warn("PostgreSQL outlived Patroni's graceful stop; it was given a fast shutdown, as at the end of a pod's grace period");
    n.log.info("node stopped gracefully");
  }

  /**
   * Starts the node's Patroni (a new pod, or Patroni inside the living pod) and returns once its REST API
   * answers (or, where a fault keeps the harness from it, once it has lived 20 s); no-op if it runs.
   */
  async startNode(node: string): Promise<void> {
    const n = this.node(node);
    this.spec.signal?.throwIfAborted();
    for (let attempt = 1; ; attempt++) {
      if (!n.pod.running) {
        this.spawnPatroni(n);
      } else if (n.pod.patroniPid() === undefined) {
        // Patroni's own test before a second start (4.x refuses to start beside a live namesake, "there is
        // already a node named ... running"): a REST API that answers means one runs, whatever the scan saw.
        if (await this.parts.agentAnswers(n.name)) {
          n.log.warn({ attempt }, "no Patroni process found in the pod, but its REST API answers: not starting another");
          return;
        }
        this.assertNotTornDown(`Patroni on ${n.name}`);
        n.pod.startPatroni();
        n.log.info({ attempt }, "patroni started again inside the running pod");
      } else if (attempt === 1) {
        return;
      }
      await waitFor({ condition: "the Patroni process to start", where: `node ${node}`, timeoutMs: 10_000, intervalMs: 20, signal: this.spec.signal }, async () => n.pod.running && n.pod.patroniPid() !== undefined);
      if ((await this.patroniStartOutcome(n)) !== "exited") return;
      // Patroni 3.0.2 exits when its very first etcd lease grant fails with a connection error (Etcd3's
      // create_lease only waits out Etcd3Error), which a loaded machine or an etcd election can cause. A pod's
      // kubelet or a systemd unit with Restart= would start it again; so does the harness, a few times.
      const tail = this.logTail(this.parts.agent(n.handle).logFile, 8);
      if (attempt >= 3) throw new Error(`Patroni on ${node} exited during its start ${attempt} times; end of its log:\n${tail}`);
      n.log.warn({ attempt, tail }, "patroni exited during its start; starting it again");
    }
  }

  /**
   * Watches a just-started Patroni until its REST API answers ("up"), its process exits ("exited"), or 20 s
   * pass ("unknown": a partition may keep the harness from its API; the process at least lives).
   */
  private async patroniStartOutcome(n: LocalNode): Promise<"up" | "exited" | "unknown"> {
    const deadline = performance.now() + 20_000;
    while (performance.now() < deadline) {
      this.spec.signal?.throwIfAborted();
      if (!n.pod.running || n.pod.patroniPid() === undefined) return "exited";
      if (await this.parts.agentAnswers(n.name)) return "up";
      await new Promise((r) => setTimeout(r, 200));
    }
    return "unknown";
  }

  private logTail(file: string, lines: number): string {
    try {
      return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /**
   * Power loss of the node's "machine". Everything on it must stop at the same instant, and nobody may hear
   * of it: its processes are frozen first (SIGSTOP: from then on the node acknowledges nothing), then its link
   * goes down (so the resets the kernel sends when they die reach nobody, as after a real crash peers only
   * see silence), then its pod and etcd member are SIGKILLed. Taking the link down first would leave a
   * moment in which the node, cut off but alive, still acknowledges local writes it can no longer replicate.
   */
  async failHost(node: string): Promise<{ host: string }> {
    const n = this.node(node);
    // The pod's own pause: a pod with nothing left running (after earlier faults) is still a machine to fail.
    if (n.pod.running) n.pod.pause("all");
    await this.pauseDcs(node);
    await this.setLink(node, false);
    await Promise.all([this.killNode(node), ...(this.parts.dcs ? [this.killDcs(node)] : [])]);
    n.log.info("host failed: frozen, link down, pod and etcd member killed");
    return { host: n.netns };
  }

  /** Boots the machine again: link up, then its etcd member, then Patroni (each a no-op if it runs). */
  async restoreHost(node: string): Promise<void> {
    await this.setLink(node, true);
    if (this.parts.dcs) await this.startDcs(node);
    await this.startNode(node);
    this.node(node).log.info("host restored");
  }

  async killProcess(node: string, part: "patroni" | "postgres"): Promise<void> {
    const n = this.node(node);
    const pids = await n.pod.killPart(part);
    n.log.info({ part, pids }, "process killed");
  }

  async pause(node: string, part: PodPart): Promise<void> {
    const n = this.node(node);
    const pids = n.pod.pause(part);
    if (pids.length === 0) throw new Error(`nothing to pause on ${node}: no ${part} process runs`);
    n.log.info({ part, pids }, "paused");
  }

  async resume(node: string): Promise<void> {
    this.node(node).pod.resume();
  }

  /** What runs in the node's pod now: the workshop's member cards show it. */
  processes(node: string): { pod: boolean; patroni: boolean; postgres: boolean } {
    const pod = this.node(node).pod;
    if (!pod.running) return { pod: false, patroni: false, postgres: false };
    return { pod: true, ...pod.parts() };
  }

  /** The node's network namespace (a learner's shell enters it) and its folder (config, data, logs). */
  netnsOf(node: string): string {
    return this.node(node).netns;
  }

  nodeDir(node: string): string {
    return this.node(node).dir;
  }

  runInNodeNetwork(node: string, argv: string[], env: Record<string, string>): ChildProcess {
    const n = this.node(node);
    // PGCHAOS_RUN in the environment is not visible in the command line; the marker argument is, so a
    // crashed run's agents are found by --cleanup like its servers.
    const logDir = join(this.spec.runDir, "logs");
    mkdirSync(logDir, { recursive: true });
    const err = openSync(join(logDir, `agent-${node}.log`), "a");
    const child = spawn("ip", ["netns", "exec", n.netns, ...argv, `--pgchaos-run=${this.workDir}`], {
      stdio: ["ignore", "pipe", err],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    });
    closeSync(err);
    return child;
  }

  /** Tag of every iptables rule this run adds, so heal and cleanup remove exactly ours. */
  get ruleTag(): string {
    return ruleComment(this.runId);
  }

  addressOf(node: string): string {
    return this.host(node).address;
  }

  /** Where the harness's clients (primary service, probes) sit: the bridge in the root namespace. */
  get clientsAddress(): string {
    return this.subnet.bridgeAddress;
  }

  /** iptables and tc inside the nodes' namespaces; the root namespace is never touched by faults. */
  private get networks(): NodeNetworks {
    // Service hosts hold rules too: a partition's other side drops the cut member there.
    return (this.nodeNetworks ??= new NodeNetworks((node, argv) => execa("ip", ["netns", "exec", this.host(node).netns, ...argv], { reject: false }), [...this.nodes, ...this.serviceHosts], this.ruleTag));
  }

  private nodeNetworks?: NodeNetworks;

  iptables(node: string, args: string[]): Promise<void> {
    return this.networks.iptables(node, args);
  }

  clearRules(node?: string): Promise<number> {
    return this.networks.clearRules(node);
  }

  listRules(): Promise<string[]> {
    return this.networks.listRules();
  }

  async setLink(node: string, up: boolean): Promise<void> {
    await execa("ip", ["-n", this.node(node).netns, "link", "set", "eth0", up ? "up" : "down"]);
  }

  latencyUnsupported(): Promise<string | undefined> {
    return this.networks.latencyUnsupported();
  }

  tc(node: string, args: string[]): Promise<void> {
    return this.networks.tc(node, args);
  }

  /** The node whose DCS member leads the DCS now (undefined where the stack has no DCS members). */
  async dcsLeader(): Promise<string | undefined> {
    return this.parts.dcs?.leader();
  }

  private dcs(op: string) {
    const dcs = this.parts.dcs;
    if (!dcs) throw new Error(`${op}: ${this.stack.info.name} runs no coordination-service member on the nodes`);
    return dcs;
  }

  dcsHosts(): readonly string[] {
    return this.parts.dcs?.hosts() ?? [];
  }

  async killDcs(node: string): Promise<void> {
    this.host(node);
    await this.dcs("killing a DCS member").kill(node);
    this.host(node).log.info("DCS member killed");
  }

  /** Restarts a killed DCS member on its data (no-op while it runs). */
  async startDcs(node: string): Promise<void> {
    this.host(node);
    await this.dcs("starting a DCS member").start(node);
  }

  async pauseDcs(node: string): Promise<void> {
    this.host(node);
    await this.parts.dcs?.pause(node);
  }

  async resumeDcs(node: string): Promise<void> {
    this.host(node);
    await this.parts.dcs?.resume(node);
  }

  /** Manual failover to a named replica through Patroni's REST API (POST /failover). */
  async failover(candidate: string): Promise<{ from?: string; to: string }> {
    return this.stack.failover(this.parts.api, this.runningNodes(), candidate, this.spec.signal);
  }

  async switchover(opts: { candidate?: string }): Promise<{ from: string; to?: string }> {
    return this.stack.switchover(this.parts.api, this.runningNodes(), { ...opts, signal: this.spec.signal });
  }

  private runningNodes(): string[] {
    return [...this.byName.values()].filter((n) => n.pod.running).map((n) => n.name);
  }

  async collectLogs(): Promise<void> {
    if (this.logsCollected) return;
    const dest = join(this.spec.runDir, "logs");
    for (const n of this.hosts()) {
      if (!existsSync(n.logDir)) continue;
      cpSync(n.logDir, join(dest, n.name), { recursive: true });
      for (const [file, text] of Object.entries(this.parts.redactedFiles(n.handle))) writeFileSync(join(dest, n.name, file), text);
    }
    for (const [name, dir] of Object.entries(this.parts.backups?.logDirs() ?? {})) {
      if (existsSync(dir)) cpSync(dir, join(dest, name), { recursive: true });
    }
    for (const f of ["haproxy.log", "haproxy.cfg"]) {
      if (existsSync(join(this.workDir, f))) cpSync(join(this.workDir, f), join(dest, f));
    }
    this.logsCollected = true;
  }

  async teardown(): Promise<{ ms: number }> {
    const started = performance.now();
    if (this.tornDown) return { ms: 0 };
    this.tornDown = true;
    await this.roleCheck?.close();
    // Data is thrown away (or kept as a crash image with --keep), so nothing needs a graceful stop.
    const spawned: Array<Pick<Spawned, "pid" | "running" | "exited">> = [
      ...(this.haproxy ? [this.haproxy] : []),
      ...[...this.byName.values()].flatMap((n) => n.pod.spawned),
      ...(this.parts.dcs?.processes() ?? []),
    ];
    const tracked = spawned.filter((p) => p.running()).map((p) => p.pid);
    const pids = [...new Set([...withDescendants(tracked), ...processesMentioning(this.workDir)])];
    signalAll(pids, "SIGKILL");
    const left = await waitGone(pids, 5000);
    if (left.length > 0) this.log.error({ left }, "processes survived SIGKILL");
    // Reap our own children before we can exit: an unreaped child would become a zombie of init.
    await Promise.race([Promise.all(spawned.map((p) => p.exited)), new Promise((r) => setTimeout(r, 2000))]);
    const unreaped = spawned.filter((p) => p.running()).map((p) => p.pid);
    if (unreaped.length > 0) this.log.warn({ unreaped }, "children not reaped 2 s after SIGKILL");
    // After the kill, not before: a postmaster that was starting (a heal under way at Ctrl-C) may have made
    // its segment after any earlier look at postmaster.pid.
    const shm = await removeOrphanSegments({ creators: pids, dataDirs: [...this.hosts().map((n) => n.dataDir), ...(this.parts.backups?.dataDirs() ?? [])] });
    if (shm > 0) this.log.info({ segments: shm }, "shared memory segments removed");
    await this.collectLogs().catch((e) => this.log.warn({ err: errorMessage(e) }, "could not copy node logs"));
    const st = this.state();
    await removeTopology({ netns: st.netns, links: st.links, runId: this.runId });
    if (!this.spec.keep) rmSync(this.workDir, { recursive: true, force: true });
    removeState(this.runId);
    const ms = performance.now() - started;
    this.log.info({ ms: Math.round(ms), kept: this.spec.keep ? this.workDir : undefined }, "teardown complete");
    return { ms };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.teardown();
  }

  /** True while the run's bridge exists: probes check it so no packet leaves for a network we did not make. */
  async bridgeExists(): Promise<boolean> {
    return linkExists(runNames(this.runId).bridge);
  }
}
