import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readHistory } from "./reader.ts";
import { HistoryWriter } from "./writer.ts";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pgchaos-history-"));
  path = join(dir, "history.jsonl");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lines = () => readFileSync(path, "utf8").split("\n").filter((l) => l !== "");

describe("HistoryWriter", () => {
  it("assigns indexes in order and writes each entry before record returns", () => {
    const w = HistoryWriter.open(path);
    const a = w.record({ process: "writer", type: "invoke", f: "write", value: 1, time: 1000 });
    // Not closed yet: the line must already be on disk (what a crash would leave).
    expect(lines()).toEqual([JSON.stringify({ index: 0, time: 1000, process: "writer", type: "invoke", f: "write", value: 1 })]);
    const b = w.record({ process: "writer", type: "ok", f: "write", value: 1, node: "n1", timeline: 2, time: 1001 });
    expect([a.index, b.index]).toEqual([0, 1]);
    expect(lines().map((l) => JSON.parse(l).index)).toEqual([0, 1]);
    expect(w.entries).toEqual([a, b]);
    w.close();
  });

  it("truncates an existing file", () => {
    writeFileSync(path, "old content\nmore\n");
    const w = HistoryWriter.open(path);
    w.record({ process: "runner", type: "info", f: "phase", value: { phase: "setup" }, time: 5 });
    w.close();
    expect(lines()).toHaveLength(1);
    expect(JSON.parse(lines()[0]!).value).toEqual({ phase: "setup" });
  });

  it("omits undefined fields from the JSON and the in-memory entry", () => {
    const w = HistoryWriter.open(path);
    const e = w.record({ process: "writer", type: "fail", f: "write", value: 3, node: undefined, error: undefined, time: 7 });
    w.close();
    expect(Object.keys(JSON.parse(lines()[0]!))).toEqual(["index", "time", "process", "type", "f", "value"]);
    expect(Object.keys(e)).toEqual(["index", "time", "process", "type", "f", "value"]);
  });

  it("rounds given times to 0.001 ms and defaults to the current epoch time", () => {
    const w = HistoryWriter.open(path);
    expect(w.record({ process: "p", type: "info", f: "phase", time: 1700000000000.1233 }).time).toBe(1700000000000.123);
    expect(w.record({ process: "p", type: "info", f: "phase", time: 1.23456789 }).time).toBe(1.235);
    const before = Date.now();
    const t = w.record({ process: "p", type: "info", f: "phase" }).time;
    const after = Date.now();
    w.close();
    // performance.timeOrigin + now() may drift from Date.now() by a few ms; 50 is generous.
    expect(t).toBeGreaterThan(before - 50);
    expect(t).toBeLessThan(after + 50);
    expect(Number(t.toFixed(3))).toBe(t);
  });

  it("closes idempotently and refuses to record afterwards", () => {
    const w = HistoryWriter.open(path);
    w.record({ process: "p", type: "info", f: "phase", time: 1 });
    w.close();
    expect(() => w.close()).not.toThrow();
    expect(w.closed).toBe(true);
    expect(() => w.record({ process: "writer", type: "ok", f: "write", value: 9 })).toThrow(/is closed.*ok write from writer/);
    expect(w.entries).toHaveLength(1);
    expect(lines()).toHaveLength(1);
  });

  it("does not write half a line when the value cannot be serialised", () => {
    const w = HistoryWriter.open(path);
    expect(() => w.record({ process: "p", type: "info", f: "phase", value: { n: 1n } })).toThrow();
    w.record({ process: "p", type: "info", f: "phase", time: 2 });
    w.close();
    expect(lines()).toHaveLength(1);
    expect(JSON.parse(lines()[0]!).index).toBe(0);
  });

  it("round-trips through readHistory", async () => {
    const w = HistoryWriter.open(path);
    w.record({ process: "nemesis", type: "info", f: "fault", value: { fault: "kill", phase: "inject", target: "primary", nodes: ["n1"] } });
    w.record({ process: "probe-n2", type: "ok", f: "node-probe", node: "n2", value: { state: "writable", timeline: 3 } });
    w.close();
    expect(await readHistory(path)).toEqual(w.entries);
  });
});
