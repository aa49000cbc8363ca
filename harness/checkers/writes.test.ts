import { describe, expect, it } from "vitest";
import { history } from "./test-history.ts";
import { classifyWrites } from "./writes.ts";

const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);

describe("classifyWrites", () => {
  it("splits ids into acknowledged, failed and indeterminate (info or never completed)", () => {
    const h = history().write(1, "ok", 0, "n1").write(2, "fail", 10).write(3, "info", 20).write(4, "none", 30).phase("x", 40).build();
    const w = classifyWrites(h);
    expect(sorted(w.acknowledged)).toEqual([1]);
    expect(sorted(w.failed)).toEqual([2]);
    expect(sorted(w.indeterminate)).toEqual([3, 4]);
    expect(sorted(w.seen)).toEqual([1, 2, 3, 4]);
  });

  it("lets an ok win over a fail or info for the same id", () => {
    const h = history().write(1, "fail", 0).write(1, "ok", 10, "n1").write(2, "info", 20).write(2, "ok", 30, "n1").build();
    const w = classifyWrites(h);
    expect(sorted(w.acknowledged)).toEqual([1, 2]);
    expect(w.failed.size).toBe(0);
    expect(w.indeterminate.size).toBe(0);
  });
});
