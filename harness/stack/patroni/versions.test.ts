import { describe, expect, it } from "vitest";
import { UsageError } from "../../util/errors.ts";
import { defaultStack, effectiveTimings, listStacks, parseStack, stackOf } from "./versions.ts";

describe("parseStack", () => {
  it.each(["patroni@3.0.2", "patroni@4.0.7", "patroni@4.1.5"])("accepts %s", (name) => {
    const s = parseStack(name);
    expect(s.name).toBe(name);
    expect(`patroni@${s.version}`).toBe(name);
  });

  it("takes `patroni` alone as Debian 12's 3.0.2, run from /usr/bin/patroni", () => {
    const s = parseStack("patroni");
    expect(s.name).toBe("patroni@3.0.2");
    expect(s.default).toBe(true);
    expect(s.install).toBe("system");
    expect(s.suites).toEqual(["bookworm"]);
    expect(defaultStack().name).toBe("patroni@3.0.2");
  });

  it.each(["", "patroni@", "patroni@4.0", "patroni@4.0.8", "patroni@v4.0.7", "Patroni@4.0.7", " patroni@4.0.7", "patroni@4.0.7 ", "stolon", "4.0.7", "patroni@__proto__", "constructor"])(
    "rejects %j with a UsageError listing the known stacks",
    (bad) => {
      expect(() => parseStack(bad)).toThrow(UsageError);
      expect(() => parseStack(bad)).toThrow(`unknown stack "${bad}": choose one of patroni@3.0.2 (default, also: patroni), patroni@4.0.7, patroni@4.1.5`);
    },
  );

  it("returns copies: changing one leaks into neither the table nor the next call", () => {
    const a = parseStack("patroni@4.0.7");
    a.debian.sha256 = "0".repeat(64);
    a.rules.minimum.ttl = 1;
    expect(parseStack("patroni@4.0.7").debian.sha256).not.toBe(a.debian.sha256);
    expect(parseStack("patroni@4.1.5").rules.minimum.ttl).toBe(20);
  });
});

describe("the stack table", () => {
  it("lists every stack once, the default first, with one default", () => {
    const names = listStacks().map((s) => s.name);
    expect(names[0]).toBe("patroni@3.0.2");
    expect(new Set(names).size).toBe(names.length);
    expect(listStacks().filter((s) => s.default)).toHaveLength(1);
  });

  it.each(listStacks().map((s) => [s.name, s] as const))("%s: a consistent Debian package entry", (_name, s) => {
    expect(s.debian.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(s.debian.file).toBe(`patroni_${s.debian.version}_all.deb`);
    expect(s.debian.pool).toBe(`pool/main/p/patroni/${s.debian.file}`);
    expect(s.debian.version.startsWith(`${s.version}-`)).toBe(true);
    expect(s.debian.size).toBeGreaterThan(100_000);
  });

  it("pins the measured packages", () => {
    expect(parseStack("patroni@4.0.7").debian).toMatchObject({ file: "patroni_4.0.7-3~deb13u1_all.deb", sha256: "b8a6d276d3adb0c9b8a6d6198575c6081134bd2038b4780d08a6c34375972931" });
    expect(parseStack("patroni@4.1.5").debian).toMatchObject({ file: "patroni_4.1.5-2_all.deb", sha256: "eeef341d5a4f92d96973934bc49c18a93ba5bc143796468e2d0475c543db9032" });
    expect(parseStack("patroni@4.1.5").suites).toEqual(["forky", "sid"]);
  });

  it("says master for 3.x and primary for 4.x", () => {
    expect(parseStack("patroni@3.0.2").rules.primaryRole).toBe("master");
    expect(parseStack("patroni@4.0.7").rules.primaryRole).toBe("primary");
    expect(parseStack("patroni@4.1.5").rules.primaryRole).toBe("primary");
  });

  it("stackOf takes a bare version too", () => {
    expect(stackOf("4.1.5").name).toBe("patroni@4.1.5");
    expect(stackOf("patroni").name).toBe("patroni@3.0.2");
    expect(() => stackOf("9.9.9")).toThrow(UsageError);
  });
});

describe("effectiveTimings", () => {
  const v3 = parseStack("patroni@3.0.2").rules;
  const v4 = parseStack("patroni@4.0.7").rules;

  it("3.0.2 runs the values as given", () => {
    expect(effectiveTimings(v3, { ttl: 10, loop_wait: 1, retry_timeout: 4 })).toEqual({ ttl: 10, loop_wait: 1, retry_timeout: 4 });
    expect(effectiveTimings(v3, { ttl: 10, loop_wait: 10, retry_timeout: 10 })).toEqual({ ttl: 10, loop_wait: 10, retry_timeout: 10 });
  });

  it("4.x raises ttl below 20 to 20 (the fast profile runs with ttl 20)", () => {
    expect(effectiveTimings(v4, { ttl: 10, loop_wait: 1, retry_timeout: 4 })).toEqual({ ttl: 20, loop_wait: 1, retry_timeout: 4 });
    expect(effectiveTimings(v4, { ttl: 30, loop_wait: 10, retry_timeout: 10 })).toEqual({ ttl: 30, loop_wait: 10, retry_timeout: 10 });
  });

  it("4.x raises loop_wait to 1 and retry_timeout to 3", () => {
    expect(effectiveTimings(v4, { ttl: 30, loop_wait: 0, retry_timeout: 1 })).toEqual({ ttl: 30, loop_wait: 1, retry_timeout: 3 });
  });

  it("4.x lowers loop_wait, then retry_timeout, to keep loop_wait + 2 * retry_timeout <= ttl", () => {
    expect(effectiveTimings(v4, { ttl: 20, loop_wait: 10, retry_timeout: 8 })).toEqual({ ttl: 20, loop_wait: 4, retry_timeout: 8 });
    expect(effectiveTimings(v4, { ttl: 20, loop_wait: 10, retry_timeout: 10 })).toEqual({ ttl: 20, loop_wait: 1, retry_timeout: 9 });
    expect(effectiveTimings(v4, { ttl: 25, loop_wait: 5, retry_timeout: 30 })).toEqual({ ttl: 25, loop_wait: 1, retry_timeout: 12 });
  });
});
