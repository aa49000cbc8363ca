import { describe, expect, it } from "vitest";
import { countRanges, describeIds, fromRanges, rangesToSet, toRanges } from "./ranges.ts";

describe("ranges", () => {
  it("sorts, dedupes and merges consecutive ids", () => {
    expect(toRanges([5, 1, 2, 3, 3, 9, 7, 8, -1])).toEqual([
      [-1, -1],
      [1, 3],
      [5, 5],
      [7, 9],
    ]);
    expect(toRanges(new Set([10]))).toEqual([[10, 10]]);
    expect(toRanges([])).toEqual([]);
  });

  it("sorts numerically, not as strings", () => {
    expect(toRanges([10, 9, 100])).toEqual([
      [9, 10],
      [100, 100],
    ]);
  });

  it("rejects non-integer ids", () => {
    expect(() => toRanges([1, 2.5])).toThrow("id 2.5 is not an integer");
  });

  it("expands, counts and converts back", () => {
    const r = toRanges([4, 1, 2, 6, 7, 8]);
    expect(fromRanges(r)).toEqual([1, 2, 4, 6, 7, 8]);
    expect(countRanges(r)).toBe(6);
    expect([...rangesToSet(r)].sort((a, b) => a - b)).toEqual([1, 2, 4, 6, 7, 8]);
    expect(countRanges([])).toBe(0);
  });

  it("describes ids, cutting long lists", () => {
    expect(describeIds([3, 4])).toBe("ids 3, 4");
    expect(describeIds([1, 2, 3, 4], 2)).toBe("ids 1, 2, ... (first 2 of 4)");
  });
});
