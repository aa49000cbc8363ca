import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import type { Scenario } from "./types.ts";
import { boundFor } from "./types.ts";
import type { Expectations, FinalState } from "../checkers/types.ts";
import type { Fault } from "../faults/types.ts";
import { createFault, describeFault } from "../faults/spec.ts";
import { HistoryWriter } from "../history/writer.ts";
import { getPlatform } from "../platform/index.ts";
import { assertCapable } from "./capabilities.ts";
import type { HaStack } from "../stack/types.ts";
import { checkStackName, describeStack, resolveStack, stackCapabilities } from "../stack/index.ts";
import type { Cluster } from "../platform/types.ts";
import { getProfile, type HaProfile } from "../stack/patroni/profiles.ts";
import { createProbeTables } from "../workload/schema.ts";
import { WriteProbe } from "../workload/write-probe.ts";
import { NodeProbes } from "../workload/node-probe.ts";
import { Progress } from "../report/progress.ts";
import { readFinalState } from "./final-read.ts";
import { check, evaluateExpectations, writeFigures, type Verdict } from "./verdict.ts";
import { writeReports } from "../report/write.ts";
import { abortable, sleep, waitFor } from "../util/wait.ts";
import { errorMessage, ReadinessTimeoutError } from "../util/errors.ts";
import { LeaderCountError } from "../platform/ready.ts";

export interface RunOptions {
  scenario: Scenario;
  /** Overrides the scenario's profile. */
  profile?: string;
  /** Overrides the scenario's synchronous mode. */
  sync?: boolean;
  /** Overrides the scenario's platform ("local", "kind", "minikube"). */
  platform?: string;
  /** Overrides the scenario's HA stack (`patroni@4.0.7`; `patroni` is Debian 12's 3.0.2). */
  stack?: string;
  /** Root of run directories; each run writes `<outDir>/<scenario>/<timestamp>/`. */
  outDir: string;
  keep?: boolean;
  signal: AbortSignal;
  progress: Progress;
}

export interface RunResult {
  runDir: string;
  verdict: Verdict;
}

export function timestampDir(d = new Date()): string {
  return d.toISOString().replace(/[:.]/g, "-");
}

/**
 * Resolves per-profile bounds into the flat expectations the checkers read. Bounds written per profile are
 * written for that profile's ttl: `timeScale` (the ttl the stack really runs over the profile's) stretches them.
 */
export function expectationsFor(s: Scenario, profile: HaProfile, timeScale = 1): Expectations {
  return {
    maxWriteUnavailableMs: scaled(s.expect.maxWriteUnavailableMs, profile.name, timeScale),
    lostWrites: s.expect.lostWrites,
    maxRecoveryPointMs: s.expect.maxRecoveryPointMs,
    divergence: s.expect.divergence,
    splitBrain: s.expect.splitBrain,
    maximumLagOnFailover: profile.dcs.maximum_lag_on_failover,
  };
}

/**
 * The expectations for a cluster not deployed with the profile (an attached one): bounds stretched by its `timeScale`,
 * and the lag bound its own settings state (an attached Patroni's maximum_lag_on_failover), never the profile's: a
 * CloudNativePG cluster has none.
 */
export function attachedExpectations(s: Scenario, profile: HaProfile, timeScale: number, settings: Record<string, unknown>): Expectations {
  const { maximumLagOnFailover: _profiles, ...rest } = expectationsFor(s, profile, timeScale);
  const v = settings.maximum_lag_on_failover;
  const own = typeof v === "number" || (typeof v === "string" && v.trim() !== "") ? Number(v) : NaN;
  return { ...rest, ...(Number.isFinite(own) ? { maximumLagOnFailover: own } : {}) };
}

/** A per-profile duration (a hold, a bound) for `profile`, stretched by `timeScale`; plain numbers are not profile timings and stay. */
export function scaled(b: number | Record<string, number> | undefined, profile: string, timeScale: number): number | undefined {
  const v = boundFor(b, profile);
  return v === undefined || typeof b === "number" || timeScale === 1 ? v : Math.round(v * timeScale);
}

/**
 * The phases of a scenario: deploy, schema, probes and warm-up, the fault schedule, recovery, final
 * read, checks, teardown. Faults are healed and the cluster torn down on every path out.
 */
export async function runScenario(opts: RunOptions): Promise<RunResult> {
  const { scenario, progress, signal } = opts;
  const platform = getPlatform(opts.platform ?? scenario.platform);
  // Named by the run or the scenario; otherwise Debian 12's, on every platform (the container platforms build their
  // image for the stack).
  const asked = opts.stack ?? (scenario.stack !== "patroni" ? scenario.stack : undefined);
  const stackName = asked ?? "patroni";
  checkStackName(stackName, platform);
  assertCapable(scenario.name, scenario.schedule.map((s) => s.fault), platform, { name: stackName, ...stackCapabilities(stackName) });
  await platform.preflight();
  const profile = getProfile(opts.profile ?? scenario.profile, { sync: opts.sync ?? scenario.sync });
  const stack = platform.stacksInImage ? describeStack(stackName, platform.name) : await resolveStack(stackName, { signal, log: (line) => progress.line(line) });
  const effective = stack.effectiveProfile(profile);
  const startedAt = new Date();
  const runDir = join(opts.outDir, scenario.name, timestampDir(startedAt));
  mkdirSync(runDir, { recursive: true });
  const logger: Logger = pino({ base: { scenario: scenario.name }, level: "info" }, pino.destination({ dest: join(runDir, "harness.log"), sync: true }));
  const history = HistoryWriter.open(join(runDir, "history.jsonl"));
  let timeScale = effective.timeScale;
  let expect = expectationsFor(scenario, profile, timeScale);
  const phase = (name: string) => {
    progress.start(name);
    history.record({ process: "runner", type: "info", f: "phase", value: { phase: name } });
  };

  const run: Verdict["run"] = { phases: progress.phases, writes: writeFigures([]) };
  let final: FinalState = { members: [], time: Date.now() };
  let settings: Record<string, unknown> = { profile: profile.name, ...profile.dcs, postgresql: profile.postgresql };
  let runId: string | undefined;
  const active = new Set<Fault>();
  let cluster: Cluster | undefined;
  let writer: WriteProbe | undefined;
  let probes: NodeProbes | undefined;
  let failure: unknown;

  try {
    phase("deploy");
    // WAL archiving must run from the start: a backup needs the WAL its start and end, a restore all of it since.
    const archive = scenario.schedule.some((s) => s.fault.kind === "backup" || s.fault.kind === "disaster");
    const networkFaults = scenario.schedule.some((s) => s.fault.kind.startsWith("partition") || s.fault.kind === "packet-loss");
    cluster = await platform.deploy({ name: scenario.name, nodes: scenario.nodes, profile, runDir, keep: opts.keep, logger, signal, stack, archive, networkFaults });
    settings = cluster.settings;
    runId = (cluster as { runId?: string }).runId;
    // A cluster not deployed with the profile (an attached one) runs its own ttl: holds and bounds follow it.
    if (cluster.timeScale !== undefined) {
      timeScale = cluster.timeScale;
      expect = attachedExpectations(scenario, profile, timeScale, cluster.settings);
    }
    const ready = await cluster.waitReady({ timeoutMs: 10_000, reason: "steady state", signal });
    progress.end(`leader ${ready.leader}`);
    writeFileSync(
      join(runDir, "scenario.json"),
      JSON.stringify(
        { scenario, profile, stack: cluster.stackInfo ?? stack.info, timeScale, expectations: expect, settings, platform: platform.name, runId, startedAt: startedAt.toISOString() },
        null,
        2,
      ),
    );

    phase("schema");
    const c = cluster;
    await createProbeTables(c, signal);
    progress.end();

    phase("warm-up");
    // Never send a probe towards an address whose bridge is gone: it would leave this machine.
    if ("bridgeExists" in c && !(await (c as { bridgeExists(): Promise<boolean> }).bridgeExists())) {
      throw new Error("the run's bridge is gone; refusing to start probes");
    }
    const byAddress = new Map(c.nodes.map((n) => [c.endpoint(n).host, n]));
    const w = scenario.workload;
    writer = new WriteProbe({ endpoint: c.primaryService, credentials: c.credentials, intervalMs: w.writeIntervalMs, connectTimeoutMs: w.connectTimeoutMs, queryTimeoutMs: w.queryTimeoutMs, history, nodeOf: (a) => c.nodeOfAddress?.(a) ?? byAddress.get(a) ?? a });
    probes = new NodeProbes({ cluster: c, intervalMs: w.nodeProbeIntervalMs, connectTimeoutMs: w.connectTimeoutMs, queryTimeoutMs: w.queryTimeoutMs, history });
    writer.start();
    probes.start();
    await sleep(scenario.warmupMs, signal);
    if (writer.counts.ok === 0) throw new Error(`steady state not reached: no write was acknowledged in ${scenario.warmupMs} ms of warm-up (${writer.counts.fail} failed, ${writer.counts.info} unknown)`);
    progress.end(`${writer.counts.ok} writes ok`);

    const ctx = { cluster: c, log: logger.child({ phase: "fault" }), signal, record: (f: "backup" | "disaster" | "restore", value: Record<string, unknown>) => history.record({ process: "nemesis", type: "info", f, value }) };
    for (const step of scenario.schedule) {
      const label = describeFault(step.fault);
      phase(`fault: ${label}`);
      const fault = createFault(step.fault);
      const nodes = await abortable(fault.resolve(ctx), signal);
      // The cluster as it was just before the fault: roles, timelines and replication lag.
      const before = await c.members().catch(() => []);
      history.record({ process: "nemesis", type: "info", f: "cluster", value: { members: before.map((m) => ({ name: m.name, role: m.role, state: m.state, timeline: m.timeline, lagBytes: m.lagBytes })) } });
      const event = { fault: fault.kind, target: fault.target, nodes };
      history.record({ process: "nemesis", type: "info", f: "fault", value: { ...event, phase: "inject" } });
      active.add(fault);
      const detail = await abortable(fault.inject(ctx, nodes), signal);
      logger.info({ fault: label, nodes, detail }, "fault injected");
      await sleep(scaled(step.holdMs, profile.name, timeScale) ?? 0, signal);
      history.record({ process: "nemesis", type: "info", f: "fault", value: { ...event, phase: "heal", detail: detail ?? undefined } });
      await abortable(fault.heal(ctx), signal);
      active.delete(fault);
      progress.end(`hit ${nodes.join(", ")}`);
      if (step.afterMs > 0) await sleep(step.afterMs, signal);
    }

    phase("recovery");
    const healedAt = performance.now();
    try {
      const r = await c.waitReady({ timeoutMs: scenario.recoveryTimeoutMs, reason: "recovery after the faults", signal });
      // Whole as Patroni sees it is not enough: a client must be able to write again.
      const wp = writer;
      await waitFor(
        { condition: "a write acknowledged through the primary service after the last heal", where: "the write probe", timeoutMs: Math.max(1000, scenario.recoveryTimeoutMs - (performance.now() - healedAt)), intervalMs: 50, signal },
        async () => wp.lastOkAt > healedAt,
      );
      run.recovered = true;
      run.recoveryMs = Math.round(Math.max(r.ms, performance.now() - healedAt));
      history.record({ process: "runner", type: "info", f: "recovery", value: { recovered: true, recoveryMs: run.recoveryMs, timeoutMs: scenario.recoveryTimeoutMs } });
      progress.end(`leader ${r.leader}, all streaming, writes acknowledged`);
    } catch (e) {
      if (!(e instanceof ReadinessTimeoutError)) throw e;
      run.recovered = false;
      const note = (stack as HaStack).recoveryNote;
      // Said where it explains what was seen: more than one running leader.
      const twoLeaders = e.lastCause instanceof LeaderCountError && e.lastCause.leaders.length > 1;
      const reason = note && twoLeaders ? `${e.message} (${note})` : e.message;
      history.record({ process: "runner", type: "info", f: "recovery", value: { recovered: false, timeoutMs: scenario.recoveryTimeoutMs, reason } });
      logger.error({ err: reason }, "cluster did not recover");
      progress.end(reason, true);
    }

    phase("cool-down");
    await sleep(scenario.cooldownMs, signal);
    // If writes broke again during the cool-down (healing can trigger an etcd election that demotes the
    // primary), keep observing until they are acknowledged again, so the history shows the whole outage.
    const wpc = writer;
    await waitFor(
      { condition: "writes acknowledged again at the end of the cool-down", where: "the write probe", timeoutMs: scenario.recoveryTimeoutMs, intervalMs: 50, signal },
      async () => performance.now() - wpc.lastOkAt < 500,
    ).catch((e) => {
      if (signal.aborted) throw e;
      logger.error({ err: errorMessage(e) }, "writes did not come back after the cool-down");
    });
    // The final state is read from a settled cluster: a leader that demoted and promoted itself again during
    // the cool-down (on a new timeline) leaves replicas that have not followed it yet, and a read then would
    // report a timeline that is only in transit. The history keeps the outage either way.
    // Not again where recovery already waited its whole budget in vain (an old primary that nothing rejoins): the final
    // read then reads the cluster as it stays.
    const settle = run.recovered === false ? Promise.reject(new Error("the cluster did not recover: read as it is")) : c.waitReady({ timeoutMs: scenario.recoveryTimeoutMs, reason: "settled before the final read", signal });
    await settle.catch((e) => {
      if (signal.aborted) throw e;
      history.record({ process: "runner", type: "info", f: "phase", value: { phase: "final read without a settled cluster" } });
      logger.error({ err: errorMessage(e) }, "the cluster was not whole again before the final read");
    });
    await writer.stop();
    await probes.stop();
    progress.end();

    phase("final read");
    final = await readFinalState(c, logger, undefined, signal);
    writeFileSync(join(runDir, "final.json"), JSON.stringify(final));
    progress.end(`leader ${final.leader ?? "none"}`);
  } catch (e) {
    failure = e;
    progress.end(errorMessage(e).split("\n")[0], true);
  } finally {
    // Every path out: stop probes, heal what is still injected, tear down. The first error is kept.
    await writer?.stop().catch(() => undefined);
    await probes?.stop().catch(() => undefined);
    for (const f of active) {
      // On Ctrl-C a heal only has to undo what teardown would not (it kills every process and removes the
      // namespaces with their rules), so it gets a few seconds, not the fault's own budget.
      await abortable(f.heal({ cluster: cluster!, log: logger }), AbortSignal.timeout(signal.aborted ? 2000 : 30_000)).catch((e) =>
        logger.error({ err: errorMessage(e) }, "heal failed"),
      );
      history.record({ process: "nemesis", type: "info", f: "fault", value: { fault: f.kind, target: f.target, nodes: [], phase: "heal", detail: { onAbort: true } } });
    }
    if (cluster) {
      progress.start("teardown");
      try {
        run.teardownMs = Math.round((await cluster.teardown()).ms);
        progress.end(opts.keep ? "data kept" : undefined);
      } catch (e) {
        progress.end(errorMessage(e), true);
        failure ??= e;
      }
    }
    history.close();
  }

  if (failure) {
    if (signal.aborted) run.interrupted = true;
    run.error = errorMessage(failure);
  }
  run.writes = writeFigures(history.entries);
  const deploy = progress.phases.find((p) => p.name === "deploy");
  run.readyMs = deploy?.ms;
  const checks = failure ? undefined : check(history.entries, final, expect);
  const verdict: Verdict = {
    scenario: scenario.name,
    platform: platform.name,
    stack: (cluster?.stackInfo ?? stack.info).name,
    profile: profile.name,
    runId,
    startedAt: startedAt.toISOString(),
    valid: checks ? checks.valid : "unknown",
    expectations: expect,
    expectationResults: checks ? evaluateExpectations(expect, checks.checks) : undefined,
    checks: checks?.checks ?? {},
    settings,
    run,
  };
  writeFileSync(join(runDir, "verdict.json"), JSON.stringify(verdict, null, 2));
  await writeReports(runDir).catch((e) => logger.error({ err: errorMessage(e) }, "reports not written"));
  logger.flush?.();
  if (failure) throw Object.assign(failure instanceof Error ? failure : new Error(String(failure)), { runDir, verdict });
  return { runDir, verdict };
}
