import type { IdRanges } from "./types.ts";

/** Sorts, dedupes and merges consecutive integer ids into inclusive ranges. */
export function toRanges(ids: Iterable<number>): IdRanges {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const out: IdRanges = [];
  for (const id of sorted) {
    if (!Number.isSafeInteger(id)) throw new RangeError(`id ${id} is not an integer`);
    const last = out[out.length - 1];
    if (last && id === last[1] + 1) last[1] = id;
    else out.push([id, id]);
  }
  return out;
}

export function fromRanges(r: IdRanges): number[] {
  const out: number[] = [];
  for (const [from, to] of r) for (let id = from; id <= to; id++) out.push(id);
  return out;
}

export function rangesToSet(r: IdRanges): Set<number> {
  return new Set(fromRanges(r));
}

export function countRanges(r: IdRanges): number {
  return r.reduce((n, [from, to]) => n + (to - from + 1), 0);
}

/** "ids 3, 4, 9" or "ids 1, 2, ... (first 20 of 57)": for reasons that must name ids without flooding. */
export function describeIds(ids: readonly number[], limit = 20): string {
  if (ids.length <= limit) return `ids ${ids.join(", ")}`;
  return `ids ${ids.slice(0, limit).join(", ")}, ... (first ${limit} of ${ids.length})`;
}
