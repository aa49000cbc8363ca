import { describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareOutDir } from "./out-dir.ts";
import { UsageError } from "./errors.ts";

describe("prepareOutDir", () => {
  it("refuses a path under /proc at once instead of looping (Node's recursive mkdir spins there)", () => {
    const t0 = performance.now();
    expect(() => prepareOutDir("/proc/forbidden/deeper")).toThrow(UsageError);
    expect(() => prepareOutDir("/proc/forbidden")).toThrow(/--out \/proc\/forbidden: cannot create \/proc\/forbidden/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("creates missing levels and returns the absolute folder", () => {
    const base = mkdtempSync(join(tmpdir(), "pgchaos-out-"));
    try {
      const dir = prepareOutDir(join(base, "a", "b"));
      expect(dir).toBe(join(base, "a", "b"));
      expect(existsSync(dir)).toBe(true);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it("refuses a file where a folder is wanted", () => {
    const base = mkdtempSync(join(tmpdir(), "pgchaos-out-"));
    try {
      writeFileSync(join(base, "f"), "");
      expect(() => prepareOutDir(join(base, "f", "x"))).toThrow(/exists and is not a folder/);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it.skipIf(process.getuid?.() === 0)("refuses a folder it cannot write into", () => {
    const base = mkdtempSync(join(tmpdir(), "pgchaos-out-"));
    chmodSync(base, 0o500);
    try {
      expect(() => prepareOutDir(base)).toThrow(/cannot write into/);
    } finally {
      chmodSync(base, 0o700);
      rmSync(base, { recursive: true, force: true });
    }
  });
});
