import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { readHistory } from "../history/reader.ts";
import type { ClusterSampleValue, FaultEventValue, HistoryEntry, NodeProbeValue } from "../history/types.ts";
import { UsageError } from "../util/errors.ts";
import { LogFollower } from "./events.ts";
import { timelineSvgOf, type PagePayload, type PageSource } from "./server.ts";
import type { MemberView, WorkshopEvent } from "./types.ts";

/**
 * A stored run played on the page at its own pace (or `speed` times faster): the writes and probes of its history,
 * its faults, the members as the history's samples and probes show them, and the failover events of its node logs.
 */
export class ReplaySource implements PageSource {
  private readonly listeners = new Set<() => void>();
  private shown = 0;
  private timer?: NodeJS.Timeout;
  private readonly t0: number;
  private readonly started = Date.now();
  readonly done: Promise<void>;
  private finish!: () => void;

  private constructor(
    private readonly runDir: string,
    private readonly history: HistoryEntry[],
    private readonly logEvents: WorkshopEvent[],
    private readonly speed: number,
  ) {
    this.t0 = history[0]?.time ?? 0;
    this.done = new Promise((r) => (this.finish = r));
    this.timer = setInterval(() => this.tick(), 250);
  }

  static async open(runDir: string, speed: number): Promise<ReplaySource> {
    const file = join(runDir, "history.jsonl");
    if (!existsSync(file)) throw new UsageError(`${runDir} is not a run directory: it has no history.jsonl (give a directory a scenario or a workshop wrote, e.g. reports/primary-kill/<time>)`);
    const history = (await readHistory(file)).sort((a, b) => a.time - b.time || a.index - b.index);
    const events: WorkshopEvent[] = [];
    const logs = join(runDir, "logs");
    if (existsSync(logs)) {
      for (const node of readdirSync(logs)) {
        const f = join(logs, node, "patroni.log");
        if (existsSync(f)) events.push(...new LogFollower(node, f, true).poll());
      }
    }
    for (const e of history) {
      if (e.f !== "fault") continue;
      const v = e.value as FaultEventValue;
      events.push({ time: e.time, node: v.nodes[0], kind: v.phase === "inject" ? "fault" : "heal", text: `${v.phase === "inject" ? "fault" : "healed"}: ${v.fault} ${v.nodes.join(", ")}` });
    }
    events.sort((a, b) => a.time - b.time);
    return new ReplaySource(runDir, history, events, speed);
  }

  /** The run's time now being shown. */
  private now(): number {
    return this.t0 + (Date.now() - this.started) * this.speed;
  }

  private tick(): void {
    const now = this.now();
    while (this.shown < this.history.length && this.history[this.shown]!.time <= now) this.shown++;
    for (const l of this.listeners) l();
    if (this.shown >= this.history.length) {
      clearInterval(this.timer);
      this.finish();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.finish();
  }

  payload(): PagePayload {
    const now = this.now();
    const seen = this.history.slice(0, this.shown);
    const members = new Map<string, MemberView>();
    const blank = (name: string): MemberView => ({ name, address: "", role: "?", state: "?", podRunning: true, patroniUp: true, postgresUp: true, configPresent: true });
    let ok = 0;
    let fail = 0;
    let unknown = 0;
    let lastOkAt: number | undefined;
    let last: HistoryEntry | undefined;
    const faults = new Map<string, { id: number; kind: string; nodes: string[]; since: number }>();
    for (const e of seen) {
      if (e.f === "cluster") {
        for (const m of (e.value as ClusterSampleValue).members) members.set(m.name, { ...(members.get(m.name) ?? blank(m.name)), role: m.role, state: "running", timeline: m.timeline, lagBytes: m.lagBytes });
      } else if (e.f === "node-probe" && e.type !== "invoke" && e.node) {
        const v = (e.value ?? {}) as Partial<NodeProbeValue>;
        const m = members.get(e.node) ?? blank(e.node);
        const state = e.type === "ok" && v.state ? v.state : "unreachable";
        members.set(e.node, { ...m, probe: { state, timeline: v.timeline, at: e.time }, role: state === "writable" ? "leader" : state === "read-only" ? "replica" : m.role, timeline: v.timeline ?? m.timeline });
      } else if (e.f === "write" && e.type !== "invoke") {
        last = e;
        if (e.type === "ok") {
          ok++;
          lastOkAt = e.time;
        } else if (e.type === "fail") fail++;
        else unknown++;
      } else if (e.f === "fault") {
        const v = e.value as FaultEventValue;
        if (v.phase === "inject") faults.set(v.fault, { id: faults.size + 1, kind: v.fault, nodes: v.nodes, since: e.time });
        else faults.delete(v.fault);
      }
    }
    for (const f of faults.values()) for (const n of f.nodes) members.set(n, { ...(members.get(n) ?? blank(n)), fault: f.kind });
    const list = [...members.values()].sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
    const leader = list.find((m) => m.role === "leader");
    return {
      mode: "replay",
      runDir: this.runDir,
      snapshot: {
        time: now,
        scope: "",
        ttl: 0,
        members: list,
        leader: leader?.name,
        timeline: leader?.timeline,
        writes: { ok, fail, unknown, lastOkAt, unavailableMs: last && last.type !== "ok" && lastOkAt !== undefined ? now - lastOkAt : undefined },
        faults: [...faults.values()],
      },
      events: this.logEvents.filter((e) => e.time <= now).slice(-40),
      timelineSvg: timelineSvgOf(seen, 60_000, now),
    };
  }

  onChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
