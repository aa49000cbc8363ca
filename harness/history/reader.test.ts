import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseHistory, readHistory } from "./reader.ts";

const entry = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ index: 0, time: 1000.5, process: "writer", type: "ok", f: "write", value: 1, ...over });

describe("parseHistory", () => {
  it("parses valid lines and tolerates blank trailing lines and CRLF", () => {
    const text = `${entry()}\r\n${entry({ index: 1, type: "info", f: "fault", value: { fault: "kill" } })}\n\n  \n`;
    const h = parseHistory(text, "history.jsonl");
    expect(h.map((e) => [e.index, e.type, e.f])).toEqual([
      [0, "ok", "write"],
      [1, "info", "fault"],
    ]);
    expect(h[0]!.time).toBe(1000.5);
  });

  it("accepts cluster samples", () => {
    const value = { members: [{ name: "n1", role: "leader", timeline: 2 }, { name: "n2", role: "replica", lagBytes: 0 }] };
    const h = parseHistory(`${entry({ process: "runner", type: "info", f: "cluster", value })}\n`, "h");
    expect(h[0]).toMatchObject({ f: "cluster", value });
  });

  it("accepts an empty file", () => {
    expect(parseHistory("", "h")).toEqual([]);
  });

  it("names the file, the 1-based line and the bad field", () => {
    const text = [entry(), entry({ index: 1 }), entry({ index: 2, type: "oops" })].join("\n") + "\n";
    expect(() => parseHistory(text, "history.jsonl")).toThrow(
      'history.jsonl line 3: field "type" must be one of invoke|ok|fail|info, got "oops"',
    );
  });

  it.each([
    [{ index: -1 }, 'field "index" must be a non-negative integer, got -1'],
    [{ index: "0" }, 'field "index" must be a non-negative integer, got "0"'],
    [{ time: undefined }, 'field "time" must be a finite number, got nothing'],
    [{ time: "12:00" }, 'field "time" must be a finite number, got "12:00"'],
    [{ process: 4 }, 'field "process" must be a string, got 4'],
    [{ f: "read" }, 'field "f" must be one of write|node-probe|fault|phase|cluster|recovery, got "read"'],
    [{ node: 1 }, 'field "node" must be a string when present, got 1'],
    [{ timeline: "3" }, 'field "timeline" must be a number when present, got "3"'],
    [{ error: {} }, 'field "error" must be a string when present, got {}'],
  ])("rejects %j", (over, message) => {
    expect(() => parseHistory(entry(over) + "\n", "h.jsonl")).toThrow(`h.jsonl line 1: ${message}`);
  });

  it("rejects non-objects, indexes that do not increase, and blank lines in the middle", () => {
    expect(() => parseHistory("[1,2]\n", "h")).toThrow("h line 1: expected a JSON object, got [1,2]");
    expect(() => parseHistory(`${entry({ index: 4 })}\n${entry({ index: 4 })}\n`, "h")).toThrow(
      'h line 2: field "index" must be greater than the previous index 4, got 4',
    );
    expect(() => parseHistory(`${entry()}\n\n${entry({ index: 1 })}\n`, "h")).toThrow("h line 2: blank line inside the history");
  });

  it("reports an unterminated broken last line as truncated", () => {
    const text = `${entry()}\n${entry({ index: 1 }).slice(0, 30)}`;
    expect(() => parseHistory(text, "history.jsonl")).toThrow(/^history\.jsonl line 2: .*looks truncated/);
  });

  it("reports a broken line that is newline-terminated as invalid JSON, not truncation", () => {
    const text = `${entry().slice(0, 30)}\n${entry({ index: 1 })}\n`;
    let message = "";
    try {
      parseHistory(text, "h");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^h line 1: not valid JSON/);
    expect(message).not.toMatch(/truncated/);
  });
});

describe("readHistory", () => {
  it("reads a file and names its path in errors", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-reader-"));
    try {
      const path = join(dir, "history.jsonl");
      writeFileSync(path, `${entry()}\n${entry({ index: 1, value: 2 })}\n`);
      expect((await readHistory(path)).map((e) => e.value)).toEqual([1, 2]);
      writeFileSync(path, `${entry({ f: "nope" })}\n`);
      await expect(readHistory(path)).rejects.toThrow(`${path} line 1: field "f"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
