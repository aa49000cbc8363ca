/** Test-only builder for hand-written histories and final states (no cluster needed). */
import type { ClusterSampleValue, FaultEventValue, HistoryEntry, NodeProbeState } from "../history/types.ts";
import { toRanges } from "./ranges.ts";
import type { CheckInput, Expectations, FinalMember, FinalState } from "./types.ts";

/** Base epoch so times look real; tests speak in ms relative to it. */
export const T0 = 1_700_000_000_000;

type Draft = Omit<HistoryEntry, "index">;

export class HistoryBuilder {
  private drafts: Draft[] = [];
  private seqs = new Map<string, number>();

  add(e: Omit<Draft, "time"> & { at: number }): this {
    const { at, ...rest } = e;
    this.drafts.push({ ...rest, time: T0 + at });
    return this;
  }

  /** One write: invoke at `at`, its completion 2 ms later ("none": never completes); an ok may carry the
   * serving node's timeline. */
  write(id: number, outcome: "ok" | "fail" | "info" | "none", at: number, node?: string, timeline?: number): this {
    this.add({ at, process: "writer", type: "invoke", f: "write", value: id });
    if (outcome === "none") return this;
    const error = outcome === "ok" ? undefined : outcome === "fail" ? "57P01 terminating connection" : "timeout after COMMIT";
    const tl = outcome === "ok" && timeline !== undefined ? { timeline } : {};
    return this.add({ at: at + 2, process: "writer", type: outcome, f: "write", value: id, node, ...tl, ...(error ? { error } : {}) });
  }

  /** `count` acknowledged writes from id `firstId`, one every `every` ms from `from`, served by `node`. */
  oks(firstId: number, count: number, from: number, every: number, node: string): this {
    for (let i = 0; i < count; i++) this.write(firstId + i, "ok", from + i * every, node);
    return this;
  }

  fault(phase: "inject" | "heal", at: number, fault = "kill", nodes = ["n1"]): this {
    const value: FaultEventValue = { fault, phase, target: "primary", nodes };
    return this.add({ at, process: "nemesis", type: "info", f: "fault", value });
  }

  /** A node probe completing at `at`; "fail" records a failed probe with no state. */
  probe(node: string, state: NodeProbeState | "fail", at: number): this {
    this.add({ at: at - 1, process: `probe-${node}`, type: "invoke", f: "node-probe", node });
    if (state === "fail") return this.add({ at, process: `probe-${node}`, type: "fail", f: "node-probe", node, error: "connection refused" });
    return this.add({ at, process: `probe-${node}`, type: "ok", f: "node-probe", node, value: { state } });
  }

  /**
   * A node probe as the real one records it: invoke at `invokeAt` with value seq (numbered 1, 2, ... per
   * node), completion at `completeAt` with { state, timeline?, seq }. "info" is a maybe-committed probe.
   */
  nodeProbe(node: string, outcome: NodeProbeState | "info", invokeAt: number, completeAt: number, timeline?: number): this {
    const seq = (this.seqs.get(node) ?? 0) + 1;
    this.seqs.set(node, seq);
    const process = `probe-${node}`;
    this.add({ at: invokeAt, process, type: "invoke", f: "node-probe", node, value: seq });
    const type = outcome === "writable" ? "ok" : outcome === "info" ? "info" : "fail";
    const state = outcome === "info" ? "unreachable" : outcome;
    const error = type === "ok" ? {} : { error: outcome === "read-only" ? "25006 read-only transaction" : "timeout" };
    const tl = outcome === "writable" && timeline !== undefined ? { timeline } : {};
    return this.add({ at: completeAt, process, type, f: "node-probe", node, value: { state, ...tl, seq }, ...error });
  }

  /** Node probes invoked every `every` ms from `from` while < `to`, each completing `took` ms later. */
  nodeProbes(node: string, outcome: NodeProbeState | "info", from: number, to: number, every: number, took = 5, timeline?: number): this {
    for (let t = from; t < to; t += every) this.nodeProbe(node, outcome, t, t + took, timeline);
    return this;
  }

  /** A cluster sample (members' roles, lag and timelines) recorded by the runner. */
  cluster(at: number, members: ClusterSampleValue["members"]): this {
    const value: ClusterSampleValue = { members };
    return this.add({ at, process: "runner", type: "info", f: "cluster", value });
  }

  phase(name: string, at: number): this {
    return this.add({ at, process: "runner", type: "info", f: "phase", value: { phase: name } });
  }

  /** Entries in time order (stable for equal times), indexed 0, 1, 2... */
  build(): HistoryEntry[] {
    return this.drafts
      .map((d, i) => ({ d, i }))
      .sort((a, b) => a.d.time - b.d.time || a.i - b.i)
      .map(({ d }, index) => ({ index, ...d }));
  }
}

export const history = () => new HistoryBuilder();

export function member(node: string, role: string, ids: number[] | undefined, timeline?: number, error?: string): FinalMember {
  return { node, role, timeline, ids: ids && toRanges(ids), ...(error ? { error } : {}) };
}

export function finalState(leader: string | undefined, members: FinalMember[]): FinalState {
  return { leader, members, time: T0 + 60_000 };
}

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export function input(h: HistoryEntry[], final: FinalState = finalState(undefined, []), expect: Expectations = {}): CheckInput {
  return { history: h, final, expect };
}
