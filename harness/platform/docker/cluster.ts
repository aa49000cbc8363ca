import { randomBytes } from "node:crypto";
import { closeSync, cpSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { execa } from "execa";
import type { Logger } from "pino";
import type { Cluster, ClusterSpec, Endpoint, Member } from "../types.ts";
import { etcdArgs, haproxyConfig, patroniConfig, BRING_UP, ETCD_CLIENT_PORT, PG_PORT, REST_PORT, reportedSettings } from "../../stack/patroni/config.ts";
import { etcdLeader, restApi } from "../../stack/patroni/local.ts";
import { stackSettings, defaultPatroniStack } from "../../stack/patroni/default.ts";
import { patroniOnly, type PatroniHaStack } from "../../stack/patroni/stack.ts";
import { waitFor } from "../../util/wait.ts";
import { errorMessage } from "../../util/errors.ts";
import { startOrTearDown } from "../start-or-teardown.ts";
import { waitPatroniReady } from "../ready.ts";
import { spawnInNetns, type Spawned } from "../local/procs.ts";
import { NodeNetworks } from "../node-network.ts";
import { DOCKER } from "../image.ts";
import { ForwardReach, type ReachMode } from "./reach.ts";
import type { Daemon } from "./daemon.ts";

/** Labels on everything a run creates: `--cleanup --platform docker` finds a crashed run's by them. */
export const LABEL_RUN = "io.pgchaos.run";
export const LABEL_OWNER = "io.pgchaos.owner-pid";
/** Outside the local platform's /var/tmp/pgchaos, whose checks look for anything under that prefix. */
export const WORK_ROOT = "/var/tmp/docker-pgchaos";
const DATA = "/var/lib/pgchaos/data";

interface DockerNode {
  name: string;
  /** The node's "machine": holds its network namespace and runs its etcd member. */
  machine: string;
  /** The node's "pod": Patroni and PostgreSQL, in the machine's network namespace. */
  pod: string;
  /** The named volume of its logs (etcd's, Patroni's, PostgreSQL's), mounted in both. */
  logVolume: string;
  address: string;
  log: Logger;
}

/**
 * A cluster on a Docker daemon: per node a machine container (network namespace, etcd member) and a pod container
 * that shares its network (Patroni and PostgreSQL under the Kubernetes platforms' pod init), on an internal network of
 * the run. In direct reach haproxy on this machine serves the primary service on the network's gateway; in forward
 * reach a clients container on the network runs it and carries the harness's connections (reach.ts). A pod kill is a
 * SIGKILL of the pod container (its data stays, as a pod's volume does); network faults are iptables rules inside the
 * machine's namespace, through docker exec. Files go in by copy and logs come out by `docker cp`: nothing of this
 * machine's is mounted, so a Docker engine in a VM works alike.
 */
export class DockerCluster implements Cluster {
  readonly platform = "docker";
  readonly nodes: readonly string[];
  primaryService!: Endpoint;
  readonly settings: Record<string, unknown>;
  readonly credentials: { user: string; password: string; database: string };
  readonly stack: PatroniHaStack;
  private readonly byName = new Map<string, DockerNode>();
  private network = "";
  private gateway = "";
  private subnet = "";
  private haproxy?: Spawned;
  /** Forward reach's listeners (undefined in direct reach). */
  private reach?: ForwardReach;
  private clients?: { container: string; address: string };
  private tornDown = false;
  private logsCollected = false;
  private readonly api;
  private readonly passwords = { superuser: secret(), replication: secret(), rewind: secret() };
  private readonly etcdUp = new Set<string>();

  private constructor(
    readonly spec: ClusterSpec,
    readonly runId: string,
    private readonly image: string,
    private readonly daemon: Daemon,
    private readonly log: Logger,
    readonly reachMode: ReachMode,
  ) {
    this.stack = patroniOnly(spec.stack, "docker") ?? defaultPatroniStack();
    this.nodes = Array.from({ length: spec.nodes }, (_, i) => `n${i + 1}`);
    this.credentials = { user: "postgres", password: this.passwords.superuser, database: "postgres" };
    this.workDir = join(WORK_ROOT, runId);
    for (const name of this.nodes) {
      this.byName.set(name, { name, machine: `pgchaos-${runId}-${name}`, pod: `pgchaos-${runId}-${name}-pod`, logVolume: `pgchaos-${runId}-${name}-log`, address: "", log: log.child({ node: name }) });
    }
    const eff = this.stack.effectiveProfile(spec.profile);
    this.settings = { ...reportedSettings(eff.profile, spec.nodes, "etcd3", { platform: "docker", image, reach: reachMode }), ...stackSettings(this.stack, eff) };
    this.api = restApi((n) => this.at(n, REST_PORT));
  }

  readonly workDir: string;

  static async deploy(spec: ClusterSpec, image: string, daemon: Daemon, reach: ReachMode): Promise<DockerCluster> {
    const runId = randomBytes(3).toString("hex");
    const c = new DockerCluster(spec, runId, image, daemon, spec.logger.child({ runId, platform: "docker", reach }), reach);
    return startOrTearDown(c, c.log, () => c.start());
  }

  private docker(args: string[], opts: { reject?: boolean; input?: string } = {}) {
    return execa(DOCKER, ["-H", this.daemon.host, ...args], { reject: opts.reject ?? true, input: opts.input });
  }

  /** Where the harness reaches `port` of `node`: its address in direct reach, a local listener in forward reach. */
  private at(node: string, port: number): Endpoint {
    return this.reach ? this.reach.endpoint(node, port) : { host: this.node(node).address, port };
  }

  private node(name: string): DockerNode {
    const n = this.byName.get(name);
    if (!n) throw new Error(`no node "${name}" in this cluster (nodes: ${this.nodes.join(", ")})`);
    return n;
  }

  private labels(): string[] {
    return Object.entries(this.labelMap()).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
  }

  private labelMap(): Record<string, string> {
    return { [LABEL_RUN]: this.runId, [LABEL_OWNER]: String(process.pid) };
  }

  private async start(): Promise<void> {
    // Direct reach's haproxy files; in forward reach the folder is only the mark its probes carry.
    if (this.reachMode === "direct") mkdirSync(this.workDir, { recursive: true });
    this.network = `pgchaos-${this.runId}`;
    // Internal: no gateway route for the containers, so nothing they send can leave this machine.
    await this.docker(["network", "create", "--internal", "--driver", "bridge", ...this.labels(), this.network]);
    const net = JSON.parse((await this.docker(["network", "inspect", this.network])).stdout)[0] as { IPAM: { Config: Array<{ Subnet: string; Gateway?: string }> } };
    this.subnet = net.IPAM.Config[0]!.Subnet;
    this.gateway = net.IPAM.Config[0]!.Gateway ?? this.subnet.replace(/\d+\/\d+$/, "1");
    // The image's postgres (999 in ours; read, so that another image works too), for the pods' /run tmpfs.
    const pgUid = Number((await this.docker(["run", "--rm", "--network", "none", this.image, "id", "-u", "postgres"])).stdout.trim());
    // Machines first: each holds its namespace with a sleeping init, so that etcd (a process of it) can be killed alone.
    const { GenericContainer } = await testcontainers(this.daemon.host);
    await Promise.all(
      [...this.byName.values()].map(async (n) => {
        // A named volume takes the image's owner of /var/log/pgchaos (postgres) when first mounted.
        await this.docker(["volume", "create", ...this.labels(), n.logVolume]);
        const machine = await new GenericContainer(this.image)
          .withName(n.machine)
          .withNetworkMode(this.network)
          .withLabels(this.labelMap())
          .withAddedCapabilities("NET_ADMIN")
          .withBindMounts([{ source: n.logVolume, target: "/var/log/pgchaos" }])
          .withEntrypoint(["/bin/sh"])
          .withCommand(["-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"])
          .start();
        n.address = machine.getIpAddress(this.network);
      }),
    );
    if (this.reachMode === "direct") await this.readMachinePids();
    else await this.startClients(GenericContainer);
    for (const n of this.byName.values()) await this.startDcs(n.name);
    await waitFor({ condition: "etcd quorum (every member healthy)", where: `cluster pgchaos-${this.runId}`, timeoutMs: 60_000, intervalMs: 100, signal: this.spec.signal }, async () => {
      for (const n of this.byName.values()) {
        const at = this.at(n.name, ETCD_CLIENT_PORT);
        const res = await fetch(`http://${at.host}:${at.port}/health`, { signal: AbortSignal.timeout(2000) });
        if (((await res.json()) as { health?: string }).health !== "true") return false;
      }
      return true;
    });
    const pods: Array<InstanceType<typeof GenericContainer>> = [];
    for (const n of this.byName.values()) {
      const cfg = patroniConfig({
        scope: `pgchaos-${this.runId}`,
        name: n.name,
        address: n.address,
        etcdHosts: [...this.byName.values()].map((m) => m.address),
        subnetCidr: this.subnet,
        dataDir: DATA,
        socketDir: "/run/pgchaos",
        logDir: "/var/log/pgchaos",
        pgpass: "/var/lib/pgchaos/pgpass",
        binDir: "/usr/lib/postgresql/15/bin",
        profile: this.stack.effectiveProfile(this.spec.profile).profile,
        bringUp: { dcs: this.stack.bringUpTimings(), parameters: BRING_UP.parameters },
        passwords: this.passwords,
      });
      // Patroni's own log as a file beside PostgreSQL's, as on the local platform (the report and the workshop read it).
      (cfg.log as Record<string, unknown>).dir = "/var/log/pgchaos";
      pods.push(
        new GenericContainer(this.image)
          .withName(n.pod)
          .withNetworkMode(`container:${n.machine}`)
          .withLabels(this.labelMap())
          .withUser("postgres")
          .withEnvironment({ PATRONI_CONFIG: "/etc/pgchaos/patroni.yml", PGDATA: DATA })
          // Readable by the container's postgres; its passwords are the run's own, and the file is in no other container.
          .withCopyContentToContainer([{ content: toYaml(cfg), target: "/etc/pgchaos/patroni.yml", mode: 0o644 }])
          .withBindMounts([{ source: n.logVolume, target: "/var/log/pgchaos" }])
          // Fresh at every start, as a pod's /run: a killed postmaster's socket lock must not outlive it (PIDs repeat).
          .withTmpFs({ "/run/pgchaos": `uid=${pgUid},gid=${pgUid},mode=0755` })
          .withCommand(["/usr/local/bin/pgchaos-pod-init"]),
      );
    }
    // The pods start together, as a StatefulSet's would with parallel pod management.
    await Promise.all(pods.map((p) => p.start()));
    await Promise.all(this.nodes.map((n) => this.startNode(n)));
    if (this.reach) {
      this.primaryService = { host: "127.0.0.1", port: this.reach.primary.port };
    } else {
      this.primaryService = { host: this.gateway, port: 5432 };
      const haproxyCfg = join(this.workDir, "haproxy.cfg");
      writeFileSync(haproxyCfg, haproxyConfig({ bind: this.gateway, port: 5432, members: this.haproxyMembers(), pidFile: join(this.workDir, "haproxy.pid"), check: { port: REST_PORT, path: "/primary" } }));
      this.haproxy = spawnInNetns({ argv: ["/usr/sbin/haproxy", "-db", "-f", haproxyCfg], logFile: join(this.workDir, "haproxy.log") });
    }
    const { leader } = await this.waitReady({ timeoutMs: this.spec.readyTimeoutMs ?? 60_000, reason: "bring-up", signal: this.spec.signal });
    const restore = await this.stack.applyProfile(this.api, leader, this.spec.profile, this.nodes.map((n) => ({ name: n, endpoint: this.endpoint(n) })), this.credentials, { timeoutMs: 15_000, intervalMs: 100, signal: this.spec.signal });
    this.log.info(restore, "profile settings in effect");
  }

  private haproxyMembers(): Array<{ name: string; address: string }> {
    return [...this.byName.values()].map((n) => ({ name: n.name, address: n.address }));
  }

  /**
   * Forward reach: the clients container (haproxy, and the relay of every connection the harness makes) on the run's
   * network, and the local listeners that lead into it.
   */
  private async startClients(GenericContainer: Awaited<ReturnType<typeof testcontainers>>["GenericContainer"]): Promise<void> {
    const name = `pgchaos-${this.runId}-clients`;
    const cfg = haproxyConfig({ bind: "127.0.0.1", port: PG_PORT, members: this.haproxyMembers(), pidFile: "/tmp/haproxy.pid", check: { port: REST_PORT, path: "/primary" } });
    const clients = await new GenericContainer(this.image)
      .withName(name)
      .withNetworkMode(this.network)
      .withLabels(this.labelMap())
      .withCopyContentToContainer([{ content: cfg, target: "/etc/pgchaos/haproxy.cfg", mode: 0o644 }])
      .withEntrypoint(["/usr/sbin/haproxy", "-db", "-f", "/etc/pgchaos/haproxy.cfg"])
      .start();
    this.clients = { container: name, address: clients.getIpAddress(this.network) };
    this.reach = await ForwardReach.open(this.daemon.host, name, [...this.byName.values()], [PG_PORT, REST_PORT, ETCD_CLIENT_PORT], PG_PORT, (why) => this.log.debug({ why }, "a forwarded connection was refused"));
    this.log.info({ clients: this.clients.address, primary: this.reach.primary.port }, "forward reach: the clients container and the local listeners are up");
  }

  endpoint(node: string): Endpoint {
    return this.at(node, PG_PORT);
  }

  addressOf(node: string): string {
    return this.node(node).address;
  }

  get clientsAddress(): string {
    return this.clients?.address ?? this.gateway;
  }

  get ruleTag(): string {
    return `pgchaos-${this.runId}`;
  }

  /** Whether the node's Patroni runs, as far as this cluster's own operations know. */
  private running = new Map<string, boolean>();

  isNodeRunning(node: string): boolean {
    return this.running.get(node) ?? false;
  }

  async members(): Promise<Member[]> {
    const up = this.nodes.filter((n) => this.running.get(n));
    if (up.length === 0) throw new Error("no member's agent answers: none running");
    return this.stack.members(this.api, up);
  }

  async waitReady(opts: { timeoutMs?: number; reason?: string; signal?: AbortSignal } = {}): Promise<{ ms: number; leader: string }> {
    return waitPatroniReady(
      { nodes: this.nodes, credentials: this.credentials, members: () => this.members(), endpoint: (n) => this.endpoint(n), dcsLeader: () => this.dcsLeader() },
      { timeoutMs: opts.timeoutMs ?? 60_000, where: `cluster pgchaos-${this.runId}${opts.reason ? ` (${opts.reason})` : ""}`, signal: opts.signal },
    );
  }

  private async agentAnswers(node: string): Promise<boolean> {
    return this.api(node, { method: "GET", path: "/liveness", timeoutMs: 1000 }).then(
      () => true,
      () => false,
    );
  }

  async killNode(node: string): Promise<void> {
    const n = this.node(node);
    await this.docker(["kill", "--signal", "KILL", n.pod], { reject: false });
    await this.docker(["wait", n.pod], { reject: false });
    this.running.set(node, false);
    n.log.info("pod killed");
  }

  async stopNode(node: string): Promise<void> {
    const n = this.node(node);
    await this.docker(["stop", "--time", "60", n.pod]);
    this.running.set(node, false);
    n.log.info("pod stopped gracefully");
  }

  /**
   * Starts the node's pod (or Patroni inside the living pod) and waits for its REST API. Patroni 3.0.2 exits when its
   * first etcd lease grant fails (local/cluster.ts says more); as on the local platform it is started again, 3 times.
   */
  async startNode(node: string): Promise<void> {
    const n = this.node(node);
    for (let attempt = 1; ; attempt++) {
      if (this.tornDown) throw new Error(`not starting ${node}: the cluster is being torn down`);
      const state = JSON.parse((await this.docker(["inspect", "-f", "{{json .State}}", n.pod])).stdout) as { Running: boolean };
      if (!state.Running) await this.docker(["start", n.pod]);
      else if (!(await this.patroniRuns(n))) await this.docker(["exec", n.pod, "pgchaos-ctl", "start-patroni"]);
      this.running.set(node, true);
      const up = await waitFor({ condition: "Patroni's REST API to answer", where: `node ${node}`, timeoutMs: 20_000, intervalMs: 100, signal: this.spec.signal }, () => this.agentAnswers(node)).then(
        () => true,
        () => false,
      );
      if (up) return;
      if (await this.patroniRuns(n)) {
        // Alive but not answering (a partition may keep the harness from its API): as the local platform, go on.
        n.log.warn("Patroni runs but its REST API did not answer within 20 s of its start");
        return;
      }
      this.running.set(node, false);
      if (attempt >= 3) throw new Error(`Patroni on ${node} exited during its start ${attempt} times: see its log in the run directory`);
      n.log.warn({ attempt }, "patroni exited during its start; starting it again");
    }
  }

  private async patroniRuns(n: DockerNode): Promise<boolean> {
    const r = await this.docker(["exec", n.pod, "pgchaos-ctl", "patroni-running"], { reject: false });
    return r.exitCode === 0;
  }

  async failHost(node: string): Promise<{ host: string }> {
    const n = this.node(node);
    await this.pause(node, "all").catch(() => undefined);
    await this.pauseDcs(node);
    await this.setLink(node, false);
    await Promise.all([this.killNode(node), this.killDcs(node)]);
    return { host: n.machine };
  }

  async restoreHost(node: string): Promise<void> {
    await this.setLink(node, true);
    await this.startDcs(node);
    await this.startNode(node);
  }

  async switchover(opts: { candidate?: string }): Promise<{ from: string; to?: string }> {
    return this.stack.switchover(this.api, this.nodes.filter((n) => this.running.get(n)), { ...opts, signal: this.spec.signal });
  }

  async failover(candidate: string): Promise<{ from?: string; to: string }> {
    return this.stack.failover(this.api, this.nodes.filter((n) => this.running.get(n)), candidate, this.spec.signal);
  }

  async killProcess(node: string, part: "patroni" | "postgres"): Promise<void> {
    await this.docker(["exec", this.node(node).pod, "pgchaos-ctl", "kill", part]);
    // "Running" is Patroni running (as on the local platform): the heal starts it again.
    if (part === "patroni") this.running.set(node, false);
  }

  async pause(node: string, part: "patroni" | "postgres" | "all"): Promise<void> {
    const n = this.node(node);
    // The whole pod through the cgroup freezer, as `docker pause` does; a part through SIGSTOP inside it.
    if (part === "all") await this.docker(["pause", n.pod]);
    else await this.docker(["exec", n.pod, "pgchaos-ctl", "pause", part]);
  }

  async resume(node: string): Promise<void> {
    const n = this.node(node);
    await this.docker(["unpause", n.pod], { reject: false });
    await this.docker(["exec", n.pod, "pgchaos-ctl", "resume"], { reject: false });
  }

  /** iptables and tc inside the machine containers' network, through docker exec (NET_ADMIN). */
  private get networks(): NodeNetworks {
    return (this.nodeNetworks ??= new NodeNetworks((node, argv) => this.docker(["exec", this.node(node).machine, ...argv], { reject: false }), this.nodes, this.ruleTag));
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
    await this.docker(["exec", this.node(node).machine, "ip", "link", "set", "eth0", up ? "up" : "down"]);
  }

  tc(node: string, args: string[]): Promise<void> {
    return this.networks.tc(node, args);
  }

  latencyUnsupported(): Promise<string | undefined> {
    return this.networks.latencyUnsupported();
  }

  async dcsLeader(): Promise<string | undefined> {
    return etcdLeader(this.nodes.map((n) => ({ name: n, ...(({ host, port }) => ({ address: host, port }))(this.at(n, ETCD_CLIENT_PORT)) })));
  }

  async killDcs(node: string): Promise<void> {
    await this.docker(["exec", this.node(node).machine, "pkill", "-KILL", "-x", "etcd"], { reject: false });
    this.etcdUp.delete(node);
  }

  async startDcs(node: string): Promise<void> {
    const n = this.node(node);
    if ((await this.docker(["exec", n.machine, "pgrep", "-x", "etcd"], { reject: false })).exitCode === 0) return;
    const args = etcdArgs({ name: n.name, address: n.address, dataDir: "/var/lib/pgchaos/etcd", cluster: [...this.byName.values()].map((m) => ({ name: m.name, address: m.address })), token: `pgchaos-${this.runId}` });
    const cmd = ["/usr/bin/etcd", ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    await this.docker(["exec", "-d", n.machine, "sh", "-c", `exec ${cmd} >> /var/log/pgchaos/etcd.log 2>&1`]);
    this.etcdUp.add(node);
  }

  async pauseDcs(node: string): Promise<void> {
    await this.docker(["exec", this.node(node).machine, "pkill", "-STOP", "-x", "etcd"], { reject: false });
  }

  async resumeDcs(node: string): Promise<void> {
    await this.docker(["exec", this.node(node).machine, "pkill", "-CONT", "-x", "etcd"], { reject: false });
  }

  /**
   * A process beside the node's database. Direct reach: in the node's network namespace, entered from this machine
   * (root on Linux). Forward reach: here, its PGHOST/PGPORT turned to the listener whose relay runs inside the node's
   * network, so what it sends never crosses the node's link (a partition leaves it connected, as it would an
   * application pod on that node).
   */
  runInNodeNetwork(node: string, argv: string[], env: Record<string, string>): ChildProcess {
    const n = this.node(node);
    const logDir = join(this.spec.runDir, "logs");
    mkdirSync(logDir, { recursive: true });
    const err = openSync(join(logDir, `agent-${node}.log`), "a");
    try {
      const path = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
      if (this.reach) {
        const ep = this.endpoint(node);
        const beside = this.reach.beside(node);
        const fixed = env.PGHOST === ep.host && env.PGPORT === String(ep.port) ? { ...env, PGHOST: beside.host, PGPORT: String(beside.port) } : env;
        return spawn(argv[0]!, [...argv.slice(1), `--pgchaos-run=${this.workDir}`], { stdio: ["ignore", "pipe", err], env: { ...path, ...fixed } });
      }
      const pid = this.machinePid.get(node);
      n.log.debug({ pid }, "agent started in the node's network");
      return spawn("nsenter", [`--net=/proc/${pid}/ns/net`, ...argv, `--pgchaos-run=${this.workDir}`], { stdio: ["ignore", "pipe", err], env: { ...path, ...env } });
    } finally {
      closeSync(err);
    }
  }

  private machinePid = new Map<string, number>();

  /** Reads the machines' PIDs (the agents enter their namespaces); called once the machines run. */
  async readMachinePids(): Promise<void> {
    for (const n of this.byName.values()) this.machinePid.set(n.name, Number((await this.docker(["inspect", "-f", "{{.State.Pid}}", n.machine])).stdout.trim()));
  }

  nodeOfAddress(address: string): string | undefined {
    return [...this.byName.values()].find((n) => n.address === address)?.name;
  }

  async collectLogs(): Promise<void> {
    if (this.logsCollected) return;
    const dest = join(this.spec.runDir, "logs");
    for (const n of this.byName.values()) {
      mkdirSync(join(dest, n.name), { recursive: true });
      // From the machine, which mounts the log volume and outlives every fault (docker cp reads a stopped container too).
      await this.docker(["cp", `${n.machine}:/var/log/pgchaos/.`, join(dest, n.name)], { reject: false });
    }
    for (const f of ["haproxy.log", "haproxy.cfg"]) if (existsSync(join(this.workDir, f))) cpSync(join(this.workDir, f), join(dest, f));
    if (this.clients) {
      const r = await this.docker(["logs", this.clients.container], { reject: false });
      writeFileSync(join(dest, "haproxy.log"), r.stdout + r.stderr);
      await this.docker(["cp", `${this.clients.container}:/etc/pgchaos/haproxy.cfg`, join(dest, "haproxy.cfg")], { reject: false });
    }
    this.logsCollected = true;
  }

  async teardown(): Promise<{ ms: number }> {
    const started = performance.now();
    if (this.tornDown) return { ms: 0 };
    this.tornDown = true;
    if (this.haproxy?.running()) {
      process.kill(this.haproxy.pid, "SIGKILL");
      await Promise.race([this.haproxy.exited, new Promise((r) => setTimeout(r, 2000))]);
    }
    await this.collectLogs().catch((e) => this.log.warn({ err: errorMessage(e) }, "could not copy node logs"));
    await this.reach?.close();
    await removeRun(this.daemon.host, this.runId);
    rmSync(this.workDir, { recursive: true, force: true });
    // A daemon of ours goes with the last run that uses it (daemon.ts stopOwnDaemon).
    await this.daemon.stop();
    return { ms: performance.now() - started };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.teardown();
  }
}

/** Removes every container, network and volume labelled with the run (all runs' when none is named). */
export async function removeRun(host: string, runId?: string): Promise<{ containers: number; networks: number; volumes: number }> {
  const filter = ["--filter", `label=${LABEL_RUN}${runId ? `=${runId}` : ""}`];
  const list = async (args: string[]) => (await execa(DOCKER, ["-H", host, ...args, ...filter], { reject: false })).stdout.split("\n").filter(Boolean);
  const ids = await list(["ps", "-aq"]);
  if (ids.length > 0) await execa(DOCKER, ["-H", host, "rm", "-f", "-v", ...ids], { reject: false });
  const nets = await list(["network", "ls", "-q"]);
  if (nets.length > 0) await execa(DOCKER, ["-H", host, "network", "rm", ...nets], { reject: false });
  const volumes = await list(["volume", "ls", "-q"]);
  if (volumes.length > 0) await execa(DOCKER, ["-H", host, "volume", "rm", "-f", ...volumes], { reject: false });
  return { containers: ids.length, networks: nets.length, volumes: volumes.length };
}

/**
 * testcontainers-node for the containers' lifecycle, pointed at the run's daemon. Its Ryuk (a container pulled from a
 * registry to reap what a crashed process left) cannot be pulled here; the run's labels and `--cleanup` do its job.
 */
async function testcontainers(host: string) {
  process.env.DOCKER_HOST = host;
  process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
  // It would look for the default bridge network's gateway to reach mapped ports; pgchaos's daemon has no default
  // bridge (--bridge=none) and maps no port: the containers are reached on the run's network.
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "127.0.0.1";
  return import("testcontainers");
}

function secret(): string {
  return randomBytes(18).toString("base64url");
}
