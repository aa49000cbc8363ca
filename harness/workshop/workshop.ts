import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pino, { type Logger } from "pino";
import { execa } from "execa";
import { LocalCluster } from "../platform/local/cluster.ts";
import { getPlatform } from "../platform/index.ts";
import { resolvePatroni } from "../stack/index.ts";
import type { PatroniHaStack } from "../stack/patroni/stack.ts";
import { getProfile } from "../stack/patroni/profiles.ts";
import { ETCD_CLIENT_PORT, REST_PORT } from "../stack/patroni/config.ts";
import { HistoryWriter } from "../history/writer.ts";
import type { HistoryEntry, NodeProbeValue } from "../history/types.ts";
import { WriteProbe } from "../workload/write-probe.ts";
import { NodeProbes } from "../workload/node-probe.ts";
import { createProbeTables } from "../workload/schema.ts";
import { Session } from "../workload/session.ts";
import { waitFor, sleep } from "../util/wait.ts";
import { errorMessage, UsageError } from "../util/errors.ts";
import { timestampDir } from "../scenario/runner.ts";
import { readFinalState } from "../scenario/final-read.ts";
import { failover as failoverChecker } from "../checkers/failover.ts";
import { splitBrain as splitBrainChecker } from "../checkers/split-brain.ts";
import { dataLoss as dataLossChecker } from "../checkers/data-loss.ts";
import { createFault } from "../faults/spec.ts";
import type { Fault } from "../faults/types.ts";
import { EXERCISES, fillIn } from "./exercises/index.ts";
import { scaleFiles } from "./exercises/02-scale.ts";
import { notWhole } from "./exercises/common.ts";
import { LogFollower } from "./events.ts";
import { deleteKey, readLeaderKey } from "./leader-key.ts";
import type { Baseline, CheckContext, Exercise, Figures, MemberView, Snapshot, StartState, Verdict, WorkshopEvent } from "./types.ts";

const WS_SCRIPT = resolve(import.meta.dirname, "ws.ts");
/** tsx's loader as an absolute URL: `ws` runs from any folder. (Asked when needed: vitest's modules lack import.meta.resolve.) */
const tsxLoader = () => import.meta.resolve("tsx");

export interface WorkshopOptions {
  /** `patroni@4.0.7`...; Debian 12's Patroni when absent. */
  stack?: string;
  profile: string;
  /** Run directories go to `<outDir>/workshop/<timestamp>/`. */
  outDir: string;
  signal: AbortSignal;
  /** Progress lines for the terminal. */
  say: (line: string) => void;
  /** The registry file `ws` finds this workshop by (set once the server listens). */
  registryFile?: string;
  /** Instructor pacing: learners may not go past this exercise (1-based) until it is raised. */
  pace?: number;
}

export interface ExerciseStatus {
  index: number;
  count: number;
  id: string;
  title: string;
  topic: string;
  text: string;
  hints: string[];
  hintsShown: number;
  check?: Verdict & { at: number };
  /** When the exercise started (the class view's "stuck for"). */
  startedAt?: number;
  passedAt?: number;
  figures?: Figures;
  ranges?: Exercise["ranges"] extends infer R ? (R extends (ttl: number) => infer X ? X : never) : never;
  locked: boolean;
  answers: Record<string, string>;
  prediction?: number;
}

interface ActiveFault {
  id: number;
  kind: string;
  nodes: string[];
  since: number;
  heal: () => Promise<void>;
  timer?: NodeJS.Timeout;
}

type Listener = () => void;

/**
 * One learner's workshop: a live cluster on the local platform with the write probe and the in-namespace probes of a
 * scenario, the exercise in progress with its check, the faults a learner injected, and a sampled snapshot of it all
 * for the page and the checks. Everything a learner does goes through here (the page's buttons, `ws`, the solver).
 */
export class Workshop {
  private cluster?: LocalCluster;
  private stack?: PatroniHaStack;
  private history?: HistoryWriter;
  private writer?: WriteProbe;
  private probes?: NodeProbes;
  private logger?: Logger;
  private followers: LogFollower[] = [];
  private sampler?: Promise<void>;
  private sampling = new AbortController();
  private faults = new Map<number, ActiveFault>();
  private nextFaultId = 1;
  private listeners = new Set<Listener>();
  private ttl = 10;
  private scope = "";
  private start: Required<StartState> = { members: 3, sync: false };
  readonly events: WorkshopEvent[] = [];
  snapshot?: Snapshot;
  runDir = "";
  index = 0;
  baseline?: Baseline;
  answers: Record<string, string> = {};
  prediction?: number;
  hintsShown = 0;
  check?: Verdict & { at: number };
  passedAt?: number;
  figures?: Figures;
  pace?: number;
  /** Per exercise: passed, and the figures it measured (the class view and --solve read these). */
  readonly results = new Map<string, { passed: boolean; figures?: Figures; at: number }>();
  private inflight?: Promise<Verdict>;
  /** Counts exercise starts: a check's result counts only for the exercise it began in. */
  private epoch = 0;

  constructor(readonly opts: WorkshopOptions) {
    this.pace = opts.pace;
  }

  get exercise(): Exercise {
    return EXERCISES[this.index]!;
  }

  get live(): LocalCluster {
    if (!this.cluster) throw new Error("no cluster runs: the workshop is starting or resetting");
    return this.cluster;
  }

  onChange(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private event(e: Omit<WorkshopEvent, "time"> & { time?: number }): void {
    this.events.push({ time: e.time ?? Date.now(), ...e });
    if (this.events.length > 500) this.events.splice(0, this.events.length - 500);
  }

  /** Brings up a cluster in the start state of exercise `index` (0-based) and starts that exercise. */
  async begin(index: number): Promise<void> {
    await this.exclusive(async () => {
      this.index = index;
      await this.deploy(this.exercise.start);
      await this.startExerciseNow(index);
    });
  }

  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;

  /**
   * One action that replaces or reshapes the cluster at a time (reset, goto, next, begin): two resets at once would
   * each deploy a cluster and one would be orphaned. Later ones wait their turn; after close() they are refused.
   */
  private exclusive<T>(action: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new UsageError("the workshop is ending"));
    const run = this.queue.then(() => {
      if (this.closing) throw new UsageError("the workshop is ending");
      return action();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async deploy(start: StartState): Promise<void> {
    const { signal } = this.opts;
    this.stack ??= await resolvePatroni(this.opts.stack, { signal, log: this.opts.say });
    const profile = getProfile(this.opts.profile, { sync: start.sync ?? false });
    this.runDir = join(this.opts.outDir, "workshop", timestampDir());
    mkdirSync(this.runDir, { recursive: true });
    this.logger = pino({ base: { workshop: true }, level: "info" }, pino.destination({ dest: join(this.runDir, "harness.log"), sync: true }));
    const platform = getPlatform("local");
    await platform.preflight();
    const t0 = performance.now();
    const cluster = (await platform.deploy({ name: "workshop", nodes: 3, profile, runDir: this.runDir, logger: this.logger, signal, stack: this.stack })) as LocalCluster;
    this.cluster = cluster;
    this.ttl = this.stack.effectiveProfile(profile).profile.dcs.ttl;
    this.scope = `pgchaos-${cluster.runId}`;
    scaleFiles.workDir = cluster.workDir;
    this.start = { members: 3, sync: start.sync ?? false };
    await createProbeTables(cluster, signal);
    this.history = HistoryWriter.open(join(this.runDir, "history.jsonl"));
    // What the sampler read of the previous cluster's history means nothing for this one.
    this.probeIndex = 0;
    this.probeState = new Map();
    this.lastOk = undefined;
    this.lastFail = undefined;
    this.lastCompletion = undefined;
    const byAddress = new Map(cluster.nodes.map((n) => [cluster.endpoint(n).host, n]));
    this.writer = new WriteProbe({ endpoint: cluster.primaryService, credentials: cluster.credentials, intervalMs: 100, connectTimeoutMs: 1000, queryTimeoutMs: 2000, history: this.history, nodeOf: (a) => byAddress.get(a) ?? a });
    this.probes = new NodeProbes({ cluster, intervalMs: 100, connectTimeoutMs: 1000, queryTimeoutMs: 2000, history: this.history });
    this.writer.start();
    this.probes.start();
    this.writeBin();
    this.followers = cluster.nodes.map((n) => new LogFollower(n, join(cluster.nodeDir(n), "log", "patroni.log")));
    this.sampling = new AbortController();
    this.sampler = this.sampleLoop(this.sampling.signal);
    if (start.members === 2) await this.removeMember("n3");
    this.opts.say(`cluster up in ${((performance.now() - t0) / 1000).toFixed(1)} s (${this.stack.info.name}, profile ${profile.name}, ttl ${this.ttl} s${start.sync ? ", synchronous mode" : ""}); run directory ${this.runDir}`);
  }

  /** Takes n3 out: Patroni stopped, its configuration, data and member key removed (the scale exercise's start). */
  private async removeMember(node: string): Promise<void> {
    const c = this.live;
    await c.stopNode(node);
    rmSync(join(c.nodeDir(node), "patroni.yml"), { force: true });
    rmSync(join(c.nodeDir(node), "data"), { recursive: true, force: true });
    await deleteKey(this.etcdUrls(), `/service/${this.scope}/members/${node}`);
    this.start.members = 2;
    await this.waitWhole(30_000);
  }

  private etcdUrls(): string[] {
    const c = this.live;
    return c.nodes.map((n) => `http://${c.addressOf(n)}:${ETCD_CLIENT_PORT}`);
  }

  private session(host: string): Session {
    const c = this.live;
    return new Session({ endpoint: { host, port: 5432 }, credentials: c.credentials, connectTimeoutMs: 1000, queryTimeoutMs: 5000, applicationName: "pgchaos-workshop" });
  }

  /** A folder on the learner's PATH: `ws`, and the stack's patronictl. */
  private writeBin(): void {
    const c = this.live;
    const bin = join(c.workDir, "bin");
    mkdirSync(bin, { recursive: true });
    // A member's shell has the member's network, whose loopback is not the page's: `ws` talks to the workshop from
    // the workshop's own network namespace.
    const node = `${JSON.stringify(process.execPath)} --import ${JSON.stringify(tsxLoader())} ${JSON.stringify(WS_SCRIPT)} "$@"`;
    writeFileSync(join(bin, "ws"), `#!/bin/sh\nexec nsenter --net=/proc/${process.pid}/ns/net ${node}\n`, { mode: 0o755 });
    if (!existsSync(join(bin, "patronictl"))) symlinkSync(this.stack!.installed.patronictl, join(bin, "patronictl"));
  }

  /** The environment of a learner's shell on `node`: patronictl, etcdctl, psql and curl set up for that member. */
  shellEnv(node: string): { netns: string; cwd: string; env: Record<string, string> } {
    const c = this.live;
    if (!c.nodes.includes(node)) throw new UsageError(`no member "${node}": the members are ${c.nodes.join(", ")}`);
    const address = c.addressOf(node);
    return {
      netns: c.netnsOf(node),
      cwd: c.nodeDir(node),
      env: {
        PATH: `${join(c.workDir, "bin")}:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
        HOME: process.env.HOME ?? "/root",
        TERM: process.env.TERM ?? "xterm",
        LANG: "C.UTF-8",
        WS_DIR: c.workDir,
        WS_NODE: node,
        WS_SCOPE: this.scope,
        ...(this.opts.registryFile ? { PGCHAOS_WORKSHOP: this.opts.registryFile } : {}),
        PATRONICTL_CONFIG_FILE: join(c.nodeDir(node), "patroni.yml"),
        PATRONI_URL: `http://${address}:${REST_PORT}`,
        ETCDCTL_API: "3",
        ETCDCTL_ENDPOINTS: this.etcdUrls().join(","),
        PGHOST: address,
        PGPORT: "5432",
        PGUSER: c.credentials.user,
        PGPASSWORD: c.credentials.password,
        PGDATABASE: c.credentials.database,
        PS1: `(ws ${node}) \\w\\$ `,
      },
    };
  }

  /** Runs a command as a learner would type it in `node`'s shell; never throws. */
  async runCommand(command: string, node = "n1", timeoutMs = 120_000): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const sh = this.shellEnv(node);
    const r = await execa("ip", ["netns", "exec", sh.netns, "bash", "-o", "pipefail", "-c", command], { env: sh.env, extendEnv: false, cwd: sh.cwd, reject: false, timeout: timeoutMs, cancelSignal: this.opts.signal });
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  // ---- sampling ----

  private async sampleLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = performance.now();
      try {
        await this.sample();
      } catch (e) {
        this.logger?.warn({ err: errorMessage(e) }, "sample failed");
      }
      this.changed();
      await sleep(Math.max(50, 500 - (performance.now() - started)), signal).catch(() => undefined);
    }
  }

  private async patroniOf(node: string): Promise<Record<string, unknown> | undefined> {
    try {
      const res = await fetch(`http://${this.live.addressOf(node)}:${REST_PORT}/patroni`, { signal: AbortSignal.timeout(400) });
      return (await res.json()) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  private async sample(): Promise<void> {
    const c = this.cluster;
    if (!c || !this.history || !this.writer) return;
    const [members, own, key] = await Promise.all([
      c.members().catch(() => []),
      Promise.all(c.nodes.map((n) => this.patroniOf(n))),
      readLeaderKey(this.etcdUrls(), this.scope),
    ]);
    const probes = this.latestProbes();
    const faultOf = new Map<string, string>();
    for (const f of this.faults.values()) for (const n of f.nodes) faultOf.set(n, f.kind);
    const views: MemberView[] = c.nodes.map((name, i) => {
      const m = members.find((x) => x.name === name);
      const p = own[i];
      const procs = c.processes(name);
      return {
        name,
        address: c.addressOf(name),
        role: m?.role ?? (p ? String(p["role"] === "master" || p["role"] === "primary" ? "leader" : p["role"]) : "down"),
        state: m?.state ?? (p ? String(p["state"]) : "down"),
        timeline: m?.timeline ?? (typeof p?.["timeline"] === "number" ? (p["timeline"] as number) : undefined),
        lagBytes: m?.lagBytes,
        streaming: m?.streaming,
        pendingRestart: p?.["pending_restart"] === true,
        podRunning: procs.pod,
        patroniUp: procs.patroni,
        postgresUp: procs.postgres,
        configPresent: existsSync(join(c.nodeDir(name), "patroni.yml")),
        probe: probes.get(name),
        fault: faultOf.get(name),
      };
    });
    const leader = views.find((m) => m.role === "leader" && m.state === "running");
    const prev = this.snapshot;
    const w = this.writeFigures();
    this.snapshot = {
      time: Date.now(),
      scope: this.scope,
      ttl: this.ttl,
      members: views,
      leader: leader?.name,
      timeline: leader?.timeline,
      leaderKey: key,
      writes: w,
      faults: [...this.faults.values()].map((f) => ({ id: f.id, kind: f.kind, nodes: f.nodes, since: f.since })),
    };
    // Events the sampler sees: the key's holder and the timeline.
    if (prev && key && prev.leaderKey) {
      if (prev.leaderKey.holder && !key.holder) this.event({ kind: "lock-expired", node: prev.leaderKey.holder, text: `the leader key of ${prev.leaderKey.holder} is gone: its lease expired or it was released` });
      else if (key.holder && key.holder !== prev.leaderKey.holder) this.event({ kind: "promotion", node: key.holder, text: `${key.holder} holds the leader key` });
    }
    if (prev?.timeline !== undefined && leader?.timeline !== undefined && leader.timeline !== prev.timeline) {
      this.event({ kind: "timeline", node: leader.name, text: `timeline ${prev.timeline} → ${leader.timeline}` });
    }
    for (const f of this.followers) for (const e of f.poll()) this.event(e);
    await this.runCheck();
  }

  private probeIndex = 0;
  private probeState = new Map<string, NonNullable<MemberView["probe"]>>();
  private lastOk?: number;
  private lastFail?: number;
  private lastCompletion?: HistoryEntry;

  /** The latest in-namespace probe result per member, and the write probe's last outcomes, from new history entries. */
  private latestProbes(): Map<string, NonNullable<MemberView["probe"]>> {
    const entries = this.history!.entries;
    for (; this.probeIndex < entries.length; this.probeIndex++) {
      const e = entries[this.probeIndex]!;
      if (e.f === "node-probe" && e.type !== "invoke" && e.node) {
        const v = (e.value ?? {}) as Partial<NodeProbeValue>;
        this.probeState.set(e.node, { state: e.type === "ok" && v.state ? v.state : "unreachable", timeline: v.timeline, at: e.time });
      } else if (e.f === "write" && e.type !== "invoke") {
        this.lastCompletion = e;
        if (e.type === "ok") this.lastOk = e.time;
        else this.lastFail = e.time;
      }
    }
    return this.probeState;
  }

  private writeFigures(): Snapshot["writes"] {
    const n = this.writer!.counts;
    const unavailable = this.lastCompletion && this.lastCompletion.type !== "ok" && this.lastOk !== undefined ? Date.now() - this.lastOk : undefined;
    return { ok: n.ok, fail: n.fail, unknown: n.info, lastOkAt: this.lastOk, lastFailAt: this.lastFail, unavailableMs: unavailable };
  }

  // ---- exercises ----

  /** Starts exercise `index` on the live cluster: its start state, a fresh baseline, answers and hints cleared. */
  async startExercise(index: number): Promise<void> {
    await this.exclusive(() => this.startExerciseNow(index));
  }

  private async startExerciseNow(index: number): Promise<void> {
    if (index < 0 || index >= EXERCISES.length) throw new UsageError(`no exercise ${index + 1}: there are ${EXERCISES.length} (1 to ${EXERCISES.length})`);
    if (this.pace !== undefined && index + 1 > this.pace) throw new UsageError(`exercise ${index + 1} is locked by the instructor (up to ${this.pace} for now)`);
    this.forgetExercise();
    await this.healAll();
    await this.inflight?.catch(() => undefined);
    this.epoch++;
    this.index = index;
    const ex = this.exercise;
    const want = { members: ex.start.members ?? 3, sync: ex.start.sync ?? false };
    // A start state the live cluster cannot be turned into by a setting is a fresh cluster.
    if (notWhole(await this.fresh()) !== undefined || (this.start.members === 2 && want.members === 3)) {
      await this.redeploy(ex.start);
    } else {
      if (want.sync !== this.start.sync) await this.setSync(want.sync);
      if (want.members === 2 && this.start.members === 3) await this.removeMember("n3");
    }
    await this.waitWhole(60_000);
    const s = await this.fresh();
    const starts: Record<string, string | undefined> = {};
    for (const n of this.live.nodes) starts[n] = (await this.patroniOf(n))?.["postmaster_start_time"] as string | undefined;
    this.baseline = { at: Date.now(), historyIndex: this.history!.entries.length, leader: s.leader, timeline: s.timeline, postmasterStart: starts, ...ex.prepare?.(s) };
    this.answers = {};
    this.prediction = undefined;
    this.hintsShown = 0;
    this.check = undefined;
    this.passedAt = undefined;
    this.figures = undefined;
    this.history!.record({ process: "runner", type: "info", f: "phase", value: { phase: `exercise ${index + 1}: ${ex.id}` } });
    this.event({ kind: "exercise", text: `exercise ${index + 1}: ${ex.title}` });
    await this.runCheck();
    this.changed();
  }

  /** No exercise is judged until startExercise has taken its new baseline. */
  private forgetExercise(): void {
    this.epoch++;
    this.baseline = undefined;
    this.check = undefined;
    this.passedAt = undefined;
    this.figures = undefined;
  }

  private snapshotNow(): Snapshot {
    if (!this.snapshot) throw new Error("the cluster has not been sampled yet");
    return this.snapshot;
  }

  /** Waits for a sample taken after now. */
  async fresh(): Promise<Snapshot> {
    const t = Date.now();
    await waitFor({ condition: "a fresh sample of the cluster", where: "the workshop", timeoutMs: 10_000, intervalMs: 50, signal: this.opts.signal }, async () => (this.snapshot?.time ?? 0) > t);
    return this.snapshotNow();
  }

  async waitWhole(timeoutMs: number): Promise<void> {
    await waitFor({ condition: "the cluster to be whole (one leader, every member streaming)", where: "the workshop cluster", timeoutMs, intervalMs: 100, signal: this.opts.signal }, async () => {
      const why = notWhole(await this.fresh());
      if (why) throw new Error(why);
      return true;
    });
  }

  private async setSync(on: boolean): Promise<void> {
    const leader = this.snapshotNow().leader;
    if (!leader) throw new Error("no leader to change synchronous_mode through");
    const res = await fetch(`http://${this.live.addressOf(leader)}:${REST_PORT}/config`, { method: "PATCH", body: JSON.stringify({ synchronous_mode: on }), headers: { "content-type": "application/json" }, signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`PATCH /config synchronous_mode=${on}: ${res.status} ${await res.text()}`);
    await waitFor({ condition: `synchronous_mode ${on ? "on, with a synchronous standby" : "off"}`, where: "the workshop cluster", timeoutMs: 30_000, intervalMs: 100, signal: this.opts.signal }, async () =>
      (await this.fresh()).members.some((m) => m.role === "sync_standby") === on,
    );
    this.start.sync = on;
  }

  /** Checks the exercise now; a check already under way (the sampler's) is waited for rather than run twice. */
  async runCheck(): Promise<Verdict> {
    if (!this.baseline || !this.snapshot) return this.check ?? { ok: false, reason: "not checked yet" };
    // Done is done: a passed exercise is not judged (nor measured) again until the next one starts.
    if (this.passedAt && this.check?.ok) return this.check;
    this.inflight ??= this.checkNow().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async checkNow(): Promise<Verdict> {
    {
      // A check that began before the exercise changed must not judge the new one.
      const epoch = this.epoch;
      const v = await this.exercise.verify(this.context()).catch((e: unknown): Verdict => ({ ok: false, reason: `the check could not read the cluster: ${errorMessage(e)}` }));
      const was = this.check;
      // The figures before the verdict: whoever sees the check pass sees what it measured.
      const figures = v.ok && !this.passedAt ? await this.measure() : undefined;
      if (epoch !== this.epoch) return v;
      if (figures) this.figures = figures;
      this.check = { ...v, at: Date.now() };
      if (v.ok && !this.passedAt) {
        this.passedAt = Date.now();
        this.results.set(this.exercise.id, { passed: true, figures: this.figures, at: this.passedAt });
        this.event({ kind: "check", text: `check passed: ${v.detail ?? this.exercise.title}` });
      } else if (!v.ok && was && (was.ok || was.reason !== v.reason)) {
        this.logger?.info({ reason: v.reason }, "check");
      }
      return v;
    }
  }

  private context(): CheckContext {
    const c = this.live;
    return {
      snapshot: this.snapshotNow(),
      baseline: this.baseline!,
      answers: this.answers,
      prediction: this.prediction,
      sql: async <T extends Record<string, unknown>>(node: string, query: string) => {
        const s = this.session(c.addressOf(node));
        try {
          await s.connect();
          return (await s.query<T>(query, [])).rows;
        } finally {
          s.drop();
        }
      },
      patroni: async (node) => (await this.patroniOf(node)) ?? {},
      history: () => this.history!.entries.slice(this.baseline!.historyIndex),
      figures: async () => this.figures ?? this.measure(),
    };
  }

  /** The exercise's figures, from its part of the history by the scenario checkers (and the leader's table for losses). */
  async measure(): Promise<Figures> {
    const history = this.history!.entries.slice(this.baseline!.historyIndex);
    const out: Figures = {};
    const gap = longestWriteGap(history, this.baseline!.at, Date.now());
    if (gap !== undefined) out.writesUnavailableS = round2(gap / 1000);
    if (history.some((e) => e.f === "fault")) {
      const fo = failoverChecker({ history, final: { members: [], time: Date.now() }, expect: {} });
      if (typeof fo["timeToNewPrimaryMs"] === "number") out.newPrimaryS = round2(fo["timeToNewPrimaryMs"] / 1000);
    }
    const sb = splitBrainChecker({ history, final: { members: [], time: Date.now() }, expect: { splitBrain: true } });
    if (typeof sb["totalWindowMs"] === "number") out.splitBrainS = round2(sb["totalWindowMs"] / 1000);
    if (this.snapshotNow().leader) {
      // Replicas get a moment to catch up; one that cannot (diverged after a retake) does not hold the leader's count up.
      const final = await readFinalState(this.live, this.logger!, notWhole(this.snapshotNow()) ? 1000 : 10_000, this.opts.signal).catch(() => undefined);
      if (final) {
        const dl = dataLossChecker({ history, final, expect: {} });
        if (typeof dl["lost"] === "number") out.lostWrites = dl["lost"];
        const direct = dl["lostDirect"] as Record<string, number[]> | undefined;
        if (direct) out.lostDirectWrites = Object.values(direct).reduce((a, ids) => a + ids.length, 0);
        else if (typeof dl["lost"] === "number") out.lostDirectWrites = 0;
      }
    }
    return out;
  }

  status(): ExerciseStatus {
    const ex = this.exercise;
    const values = { leader: this.baseline?.leader, target: this.baseline?.target, scope: this.scope, ttl: this.ttl };
    return {
      index: this.index + 1,
      count: EXERCISES.length,
      id: ex.id,
      title: ex.title,
      topic: ex.topic,
      text: fillIn(ex.text, values),
      hints: ex.hints.slice(0, this.hintsShown).map((h) => fillIn(h, values)),
      hintsShown: this.hintsShown,
      check: this.check,
      startedAt: this.baseline?.at,
      passedAt: this.passedAt,
      figures: this.figures,
      ranges: ex.ranges?.(this.ttl),
      locked: this.pace !== undefined && this.index + 2 > this.pace,
      answers: this.answers,
      prediction: this.prediction,
    };
  }

  /** The solution's commands with the exercise's values filled in. */
  solution(): string[] {
    const values = { leader: this.baseline?.leader, target: this.baseline?.target, scope: this.scope, ttl: this.ttl };
    return this.exercise.solution.map((c) => fillIn(c, values));
  }

  hint(): string {
    const ex = this.exercise;
    if (this.hintsShown < ex.hints.length) this.hintsShown++;
    this.changed();
    const values = { leader: this.baseline?.leader, target: this.baseline?.target, scope: this.scope, ttl: this.ttl };
    if (this.hintsShown === 0) return "no hints for this exercise: `ws skip` shows and runs the solution";
    return fillIn(ex.hints[this.hintsShown - 1]!, values);
  }

  /** Runs the exercise's solution in n1's shell, as `ws skip` does; returns what each command printed. */
  async skip(): Promise<string[]> {
    const out: string[] = [];
    for (const cmd of this.solution()) {
      out.push(`$ ${cmd}`);
      const r = await this.runCommand(cmd);
      if (r.stdout.trim()) out.push(r.stdout.trimEnd());
      if (r.exitCode !== 0) throw new Error(`the solution's command failed (exit ${r.exitCode}): ${cmd}\n${r.stderr.trim()}`);
    }
    return out;
  }

  // ---- what learners do to the cluster ----

  /** primary, replica or a member's name, as the member it means now. */
  resolveTarget(target: string): string {
    const s = this.snapshotNow();
    if (target === "primary" || target === "leader") {
      if (!s.leader) throw new UsageError("nobody leads right now: name a member (n1, n2, n3)");
      return s.leader;
    }
    if (target === "replica") {
      const r = s.members.filter((m) => m.name !== s.leader && m.patroniUp).map((m) => m.name).sort()[0];
      if (!r) throw new UsageError("no replica runs");
      return r;
    }
    if (!this.live.nodes.includes(target)) throw new UsageError(`"${target}" is not a member: say primary, replica or one of ${this.live.nodes.join(", ")}`);
    return target;
  }

  private record(kind: string, target: string, nodes: string[], phase: "inject" | "heal", detail?: Record<string, unknown>): void {
    this.history?.record({ process: "nemesis", type: "info", f: "fault", value: { fault: kind, target, nodes, phase, ...(detail ? { detail } : {}) } });
    this.event({ kind: phase === "inject" ? "fault" : "heal", node: nodes[0], text: `${phase === "inject" ? "fault" : "healed"}: ${kind} ${nodes.join(", ")}` });
  }

  private addFault(kind: string, target: string, nodes: string[], heal: () => Promise<void>): ActiveFault {
    const f: ActiveFault = { id: this.nextFaultId++, kind, nodes, since: Date.now(), heal: async () => {} };
    f.heal = async () => {
      if (!this.faults.delete(f.id)) return;
      if (f.timer) clearTimeout(f.timer);
      await heal();
      this.record(kind, target, nodes, "heal");
      this.changed();
    };
    this.faults.set(f.id, f);
    this.changed();
    return f;
  }

  /** SIGKILL of the member's pod; it starts again `downS` seconds later (the ttl and 5 s unless told). */
  async kill(target: string, downS?: number): Promise<string> {
    const node = this.resolveTarget(target);
    const down = downS ?? this.ttl + 5;
    this.record("kill", target, [node], "inject", { downS: down });
    const f = this.addFault("kill", target, [node], () => this.live.startNode(node));
    await this.live.killNode(node);
    if (down === 0) await f.heal();
    else f.timer = setTimeout(() => f.heal().catch((e) => this.logger?.error({ err: errorMessage(e) }, "restart after kill")), down * 1000);
    return down === 0 ? `killed ${node} and started it again` : `killed ${node}; its pod starts again in ${down} s`;
  }

  async stop(target: string): Promise<string> {
    const node = this.resolveTarget(target);
    this.record("stop", target, [node], "inject");
    this.addFault("stop", target, [node], () => this.live.startNode(node));
    await this.live.stopNode(node);
    return `stopped ${node} gracefully (Patroni shut PostgreSQL down): \`ws start ${node}\` starts it`;
  }

  async killPart(target: string, part: "patroni" | "postgres"): Promise<string> {
    const node = this.resolveTarget(target);
    const kind = `${part}-kill`;
    this.record(kind, target, [node], "inject");
    if (part === "patroni") {
      this.addFault(kind, target, [node], () => this.live.startNode(node));
      await this.live.killProcess(node, "patroni");
      return `killed Patroni on ${node}; its PostgreSQL runs on. \`ws start ${node}\` starts Patroni again`;
    }
    await this.live.killProcess(node, "postgres");
    this.record(kind, target, [node], "heal");
    return `killed PostgreSQL on ${node}; its Patroni starts it again`;
  }

  async pause(target: string): Promise<string> {
    const node = this.resolveTarget(target);
    this.record("pause", target, [node], "inject");
    this.addFault("pause", target, [node], () => this.live.resume(node));
    await this.live.pause(node, "all");
    return `froze Patroni and PostgreSQL on ${node} (SIGSTOP): \`ws heal\` thaws them`;
  }

  async isolate(target: string): Promise<string> {
    const node = this.resolveTarget(target);
    const fault: Fault = createFault({ kind: "partition", shape: "isolate", target: node });
    const ctx = { cluster: this.live, log: this.logger!, signal: this.opts.signal };
    this.record("partition", target, [node], "inject", { shape: "isolate" });
    this.addFault("partition", target, [node], () => fault.heal(ctx));
    await fault.inject(ctx, [node]);
    return `cut ${node} off from its peers, etcd and the clients: \`ws heal\` joins it again`;
  }

  /** Starts a member's Patroni (after a stop, a Patroni kill, or for a new member). */
  async startMember(target: string): Promise<string> {
    const node = this.resolveTarget(target);
    const c = this.live;
    if (!existsSync(join(c.nodeDir(node), "patroni.yml"))) throw new UsageError(`${node} has no patroni.yml in ${c.nodeDir(node)}: write its configuration first`);
    const mine = [...this.faults.values()].filter((f) => f.nodes.includes(node) && ["kill", "stop", "patroni-kill"].includes(f.kind));
    if (mine.length > 0) for (const f of mine) await f.heal();
    else await c.startNode(node);
    return `${node}'s Patroni runs`;
  }

  async healAll(): Promise<string> {
    const all = [...this.faults.values()];
    for (const f of all) await f.heal().catch((e) => this.logger?.error({ err: errorMessage(e) }, "heal"));
    return all.length === 0 ? "nothing to heal" : `healed: ${all.map((f) => `${f.kind} ${f.nodes.join(", ")}`).join("; ")}`;
  }

  async waitFor(what: "new-leader" | "whole" | "settled", timeoutS = 120): Promise<string> {
    const from = this.baseline?.leader;
    if (what === "settled") {
      // One running leader that holds the key, unchanged for a whole ttl: the stack has decided, whole or not.
      let since = 0;
      let holder: string | undefined;
      await waitFor({ condition: `one leader holding the key for ${this.ttl} s`, where: "the workshop cluster", timeoutMs: timeoutS * 1000, intervalMs: 200, signal: this.opts.signal }, async () => {
        const s = await this.fresh();
        const now = s.leader !== undefined && s.leaderKey?.holder === s.leader && this.faults.size === 0 ? s.leader : undefined;
        if (now !== holder) {
          holder = now;
          since = Date.now();
        }
        return holder !== undefined && Date.now() - since >= this.ttl * 1000;
      });
      return `${holder} has led for ${this.ttl} s`;
    }
    if (what === "whole") {
      await this.waitWhole(timeoutS * 1000);
      return `whole: ${this.snapshotNow().leader} leads, every member streams`;
    }
    await waitFor({ condition: `a leader other than ${from}`, where: "the workshop cluster", timeoutMs: timeoutS * 1000, intervalMs: 100, signal: this.opts.signal }, async () => {
      const s = await this.fresh();
      return s.leaderKey?.holder !== undefined && s.leaderKey.holder !== from && s.leader === s.leaderKey.holder;
    });
    return `${this.snapshotNow().leader} leads`;
  }

  answer(key: string, value: string): string {
    if (!/^[a-z]+$/.test(key)) throw new UsageError(`answer what? \`ws answer KEY VALUE\`, KEY in lower-case letters (got "${key}")`);
    this.answers[key] = value;
    this.changed();
    return `answered ${key} = ${value}`;
  }

  predict(seconds: number): string {
    if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) throw new UsageError("predict a number of seconds between 0 and 3600: `ws predict 12`");
    this.prediction = seconds;
    this.changed();
    return `predicted ${seconds} s`;
  }

  /** Heal, tear down, deploy again, and start the current exercise over: a broken cluster costs seconds. */
  async reset(): Promise<{ ms: number }> {
    return this.exclusive(async () => {
      const t0 = performance.now();
      await this.redeploy(this.exercise.start);
      await this.startExerciseNow(this.index);
      return { ms: performance.now() - t0 };
    });
  }

  private async redeploy(start: StartState): Promise<void> {
    await this.stopCluster();
    await this.deploy(start);
  }

  /** Nothing needs healing before a teardown: the namespaces, their rules and every process go with it. */
  private async stopCluster(): Promise<void> {
    this.forgetExercise();
    for (const f of this.faults.values()) if (f.timer) clearTimeout(f.timer);
    this.faults.clear();
    this.sampling.abort();
    await this.sampler;
    await this.writer?.stop();
    await this.probes?.stop();
    this.history?.close();
    const c = this.cluster;
    this.cluster = undefined;
    this.snapshot = undefined;
    if (c) await c.teardown();
  }

  /** Everything removed: faults healed, probes stopped, cluster torn down. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    // An action under way (a reset deploying) finishes or fails first; then nothing new starts.
    await this.queue;
    await this.stopCluster();
    this.logger?.flush?.();
  }

  /** The history so far (the page's timeline). */
  historyEntries(): readonly HistoryEntry[] {
    return this.history?.entries ?? [];
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Writes unavailable as a client of the primary service saw it during an exercise, whatever the learner did (a fault
 * of ours, or patronictl): the longest time between two acknowledged writes, counting from the exercise's start and,
 * while writes fail, up to now. undefined when no write was attempted.
 */
export function longestWriteGap(history: readonly HistoryEntry[], from: number, now: number): number | undefined {
  const done = history.filter((e) => e.f === "write" && e.type !== "invoke");
  if (done.length === 0) return undefined;
  let last = from;
  let longest = 0;
  for (const e of done) {
    if (e.type !== "ok") continue;
    longest = Math.max(longest, e.time - last);
    last = e.time;
  }
  if (done[done.length - 1]!.type !== "ok") longest = Math.max(longest, now - last);
  return longest;
}
