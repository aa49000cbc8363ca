import { readFile } from "node:fs/promises";
import type { HistoryEntry, OpF, OpType } from "./types.ts";

const OP_TYPES: readonly OpType[] = ["invoke", "ok", "fail", "info"];
const OP_FS: readonly OpF[] = ["write", "node-probe", "fault", "phase", "cluster", "recovery"];

export async function readHistory(path: string): Promise<HistoryEntry[]> {
  return parseHistory(await readFile(path, "utf8"), path);
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Parses JSONL history text; throws naming `sourceName`, the 1-based line and what is wrong. */
export function parseHistory(text: string, sourceName: string): HistoryEntry[] {
  const lines = text.split("\n");
  // Trailing blank lines are fine (the writer ends every entry with a newline).
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop();
  // The writer always terminates a line, so an unterminated last line is a write cut short.
  const lastUnterminated = !text.slice(text.trimEnd().length).includes("\n");

  const entries: HistoryEntry[] = [];
  lines.forEach((raw, i) => {
    const where = `${sourceName} line ${i + 1}`;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") throw new Error(`${where}: blank line inside the history`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (i === lines.length - 1 && lastUnterminated) {
        throw new Error(`${where}: not valid JSON and not newline-terminated; the file looks truncated (crash mid-write?): ${why}`);
      }
      throw new Error(`${where}: not valid JSON: ${why}`);
    }
    const prev = entries[entries.length - 1];
    const entry = validate(parsed, prev?.index, (msg) => new Error(`${where}: ${msg}`));
    entries.push(entry);
  });
  return entries;
}

function validate(v: unknown, prevIndex: number | undefined, fail: (msg: string) => Error): HistoryEntry {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw fail(`expected a JSON object, got ${show(v)}`);
  const o = v as Record<string, unknown>;
  const field = (name: string, rule: string) => fail(`field "${name}" must be ${rule}, got ${show(o[name])}`);

  if (typeof o.index !== "number" || !Number.isInteger(o.index) || o.index < 0) {
    throw field("index", "a non-negative integer");
  }
  if (prevIndex !== undefined && o.index <= prevIndex) {
    throw field("index", `greater than the previous index ${prevIndex}`);
  }
  if (typeof o.time !== "number" || !Number.isFinite(o.time)) throw field("time", "a finite number");
  if (typeof o.process !== "string") throw field("process", "a string");
  if (!OP_TYPES.includes(o.type as OpType)) throw field("type", `one of ${OP_TYPES.join("|")}`);
  if (!OP_FS.includes(o.f as OpF)) throw field("f", `one of ${OP_FS.join("|")}`);
  if (o.node !== undefined && typeof o.node !== "string") throw field("node", "a string when present");
  if (o.timeline !== undefined && typeof o.timeline !== "number") throw field("timeline", "a number when present");
  if (o.error !== undefined && typeof o.error !== "string") throw field("error", "a string when present");
  return o as unknown as HistoryEntry;
}
