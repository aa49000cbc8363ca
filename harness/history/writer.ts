import { closeSync, openSync, writeSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { HistoryEntry } from "./types.ts";

export type NewEntry = Omit<HistoryEntry, "index" | "time"> & { time?: number };

/** Epoch milliseconds rounded to a microsecond, so JSON stays short. toFixed rounds the exact binary value;
 * ms * 1000 would itself round at epoch magnitudes (~1.7e15). */
export function roundTime(ms: number): number {
  return Number(ms.toFixed(3));
}

/**
 * Appends history entries to a JSONL file, one synchronous write per entry: if the process dies, every
 * entry recorded so far is on disk, in order (DESIGN.md, idea 1).
 */
export class HistoryWriter {
  readonly entries: HistoryEntry[] = [];
  #fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.#fd = fd;
  }

  /** Creates the file, or truncates it if it exists. */
  static open(path: string): HistoryWriter {
    return new HistoryWriter(path, openSync(path, "w"));
  }

  get closed(): boolean {
    return this.#fd === undefined;
  }

  record(e: NewEntry): HistoryEntry {
    const fd = this.#fd;
    if (fd === undefined) {
      throw new Error(`history ${this.path} is closed: cannot record ${e.type} ${e.f} from ${e.process}`);
    }
    const entry: HistoryEntry = {
      index: this.entries.length,
      time: roundTime(e.time ?? performance.timeOrigin + performance.now()),
      process: e.process,
      type: e.type,
      f: e.f,
    };
    // Only defined optional fields, so the in-memory entry equals what a reader parses back.
    if (e.node !== undefined) entry.node = e.node;
    if (e.value !== undefined) entry.value = e.value;
    if (e.timeline !== undefined) entry.timeline = e.timeline;
    if (e.error !== undefined) entry.error = e.error;

    // Serialise before writing, so a value JSON cannot represent throws without leaving half a line.
    const line = Buffer.from(JSON.stringify(entry) + "\n", "utf8");
    let written = 0;
    while (written < line.length) written += writeSync(fd, line, written, line.length - written);
    this.entries.push(entry);
    return entry;
  }

  /** Idempotent: safe to call from both normal teardown and a signal handler. */
  close(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    closeSync(fd);
  }
}
