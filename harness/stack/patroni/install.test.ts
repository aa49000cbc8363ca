import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EnvironmentError } from "../../util/errors.ts";
import { ChecksumMismatchError, DownloadError, ensurePatroni, launcher, sha256Of, stackDir, verifySha256, type EnsuredPatroni } from "./install.ts";
import { parseStack } from "./versions.ts";

const made: string[] = [];
/** A cache root others can traverse, as the postgres user must. */
function tempRoot(): string {
  const d = mkdtempSync(join(tmpdir(), "pgchaos-stacks-test-"));
  chmodSync(d, 0o755);
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const fakeFetch = (body: string | null, init: ResponseInit = {}) => (async () => new Response(body, init)) as unknown as typeof fetch;

describe("verifySha256", () => {
  it("accepts the pinned bytes and refuses a tampered file, deleting it", async () => {
    const dir = tempRoot();
    const file = join(dir, "patroni_0.0.0-1_all.deb");
    writeFileSync(file, "the package as published\n");
    const pinned = sha256Of(readFileSync(file));
    await expect(verifySha256(file, pinned)).resolves.toBeUndefined();
    expect(existsSync(file)).toBe(true);

    appendFileSync(file, "x");
    const err = await verifySha256(file, pinned).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as ChecksumMismatchError).message).toContain(`expected ${pinned}, got ${sha256Of("the package as published\nx")}`);
    expect(existsSync(file)).toBe(false);
  });
});

describe("ensurePatroni with a cached stack, offline", () => {
  it("refuses a download whose SHA-256 is not the pinned one and leaves no cache behind", async () => {
    const root = tempRoot();
    const logs: string[] = [];
    const err = await ensurePatroni("4.0.7", { cacheRoot: root, fetch: fakeFetch("not the package"), log: (l) => logs.push(l) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(String(err)).toContain("patroni_4.0.7-3~deb13u1_all.deb");
    expect(readdirSync(join(root, "stacks"))).toEqual([]);
    expect(logs.join("\n")).toContain("downloading https://deb.debian.org/debian/pool/main/p/patroni/patroni_4.0.7-3~deb13u1_all.deb");
  });

  it("reports an HTTP error as such, and a redirect is not followed", async () => {
    const root = tempRoot();
    const e404 = await ensurePatroni("4.1.5", { cacheRoot: root, fetch: fakeFetch("gone", { status: 404 }) }).catch((e: unknown) => e);
    expect(e404).toBeInstanceOf(DownloadError);
    expect((e404 as DownloadError).network).toBe(false);
    expect(String(e404)).toContain("HTTP 404");
    const e302 = await ensurePatroni("4.1.5", { cacheRoot: root, fetch: fakeFetch(null, { status: 302, headers: { location: "https://elsewhere.example/x.deb" } }) }).catch((e: unknown) => e);
    expect(String(e302)).toContain("not followed");
    expect(readdirSync(join(root, "stacks"))).toEqual([]);
  });

  it("tries HTTPS then HTTP on the archive's host only, then says it could not reach it", async () => {
    const urls: string[] = [];
    const failing = (async (url: string) => {
      urls.push(url);
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("getaddrinfo EAI_AGAIN deb.debian.org"), { code: "EAI_AGAIN" }) });
    }) as unknown as typeof fetch;
    const err = await ensurePatroni("patroni@4.1.5", { cacheRoot: tempRoot(), fetch: failing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).network).toBe(true);
    expect(urls).toEqual(["https://deb.debian.org/debian/pool/main/p/patroni/patroni_4.1.5-2_all.deb", "http://deb.debian.org/debian/pool/main/p/patroni/patroni_4.1.5-2_all.deb"]);
  });

  it("writes a python3 launcher that puts the extracted package first", () => {
    const text = launcher(parseStack("patroni@4.1.5"), "/c/stacks/patroni-4.1.5/root/usr/lib/python3/dist-packages", "patroni.__main__", "main");
    expect(text.split("\n")[0]).toBe("#!/usr/bin/python3 -s");
    expect(text).toContain('SITE = "/c/stacks/patroni-4.1.5/root/usr/lib/python3/dist-packages"\nsys.path.insert(0, SITE)');
    expect(text).toContain("from patroni.__main__ import main");
  });
});

/** Runs a download test; skips it (saying why) on a network failure outside CI. */
async function orSkip<T>(ctx: { skip: (note?: string) => void }, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof DownloadError && e.network && !process.env.CI) {
      console.log(`skipped: Debian's archive is unreachable: ${e.message}`);
      ctx.skip();
    }
    throw e;
  }
}

function expectShared(root: string, p: EnsuredPatroni): void {
  for (let d = p.bin; d.startsWith(root) && d !== root; d = join(d, "..")) {
    const mode = statSync(d).mode & 0o777;
    expect(mode & 0o005, `${d} is ${mode.toString(8)}`).toBe(0o005);
  }
  expect(statSync(p.bin).mode & 0o777).toBe(0o755);
  expect(statSync(p.patronictl).mode & 0o777).toBe(0o755);
}

describe("ensurePatroni with a cached stack, from Debian's archive", () => {
  it("patroni@4.0.7: downloads, checks, extracts, and the launcher prints 4.0.7; a second call reuses the cache", { timeout: 60_000 }, async (ctx) => {
    const root = tempRoot();
    const stack = parseStack("patroni@4.0.7");
    const logs: string[] = [];
    const p = await orSkip(ctx, () => ensurePatroni(stack, { cacheRoot: root, log: (l) => logs.push(l) }));
    expect(p).toMatchObject({ bin: join(stackDir(stack, root), "bin", "patroni"), version: "4.0.7", sha256: stack.debian.sha256 });
    expect(p.source).toContain("patroni_4.0.7-3~deb13u1_all.deb");
    expect(execFileSync(p.bin, ["--version"], { cwd: "/", env: { PATH: "/usr/bin:/bin" } }).toString().trim()).toBe("patroni 4.0.7");
    expect(execFileSync(p.patronictl, ["version"], { cwd: "/", env: { PATH: "/usr/bin:/bin", HOME: root } }).toString()).toContain("patronictl version 4.0.7");
    expectShared(root, p);
    expect(logs.filter((l) => l.includes("downloading"))).toHaveLength(1);

    const again: string[] = [];
    const q = await ensurePatroni("4.0.7", { cacheRoot: root, log: (l) => again.push(l), fetch: fakeFetch("must not download") });
    expect(q).toEqual(p);
    expect(again.filter((l) => l.includes("downloading"))).toEqual([]);
    expect(readdirSync(join(root, "stacks"))).toEqual(["patroni-4.0.7"]);
  });

  it("patroni@4.1.5: two concurrent calls on an empty cache both get one whole copy, and a damaged copy is rebuilt", { timeout: 60_000 }, async (ctx) => {
    const root = tempRoot();
    const [a, b] = await orSkip(ctx, () => Promise.all([ensurePatroni("patroni@4.1.5", { cacheRoot: root }), ensurePatroni("patroni@4.1.5", { cacheRoot: root })]));
    expect(a).toEqual(b);
    expect(a.version).toBe("4.1.5");
    expect(readdirSync(join(root, "stacks"))).toEqual(["patroni-4.1.5"]);
    expect(execFileSync(a.bin, ["--version"], { cwd: "/", env: { PATH: "/usr/bin:/bin" } }).toString().trim()).toBe("patroni 4.1.5");

    rmSync(join(root, "stacks", "patroni-4.1.5", "bin", "patronictl"));
    const c = await orSkip(ctx, () => ensurePatroni("4.1.5", { cacheRoot: root }));
    expect(existsSync(c.patronictl)).toBe(true);
    expect(readdirSync(join(root, "stacks"))).toEqual(["patroni-4.1.5"]);
  });
});

describe("ensurePatroni with Debian 12's package", () => {
  const installed = existsSync("/usr/bin/patroni");

  it.runIf(installed)("returns /usr/bin/patroni, 3.0.2, with the package's SHA-256", { timeout: 20_000 }, async () => {
    const p = await ensurePatroni("patroni");
    expect(p.bin).toBe("/usr/bin/patroni");
    expect(p.patronictl).toBe("/usr/bin/patronictl");
    expect(p.version).toBe("3.0.2");
    const pkg = execFileSync("dpkg-query", ["-W", "-f=${Version}", "patroni"]).toString();
    expect(p.source).toContain(`patroni ${pkg}`);
    if (pkg === "3.0.2-1") expect(p.sha256).toBe(parseStack("patroni@3.0.2").debian.sha256);
  });

  it.skipIf(installed)("says how to install it when /usr/bin/patroni is missing", async () => {
    await expect(ensurePatroni("3.0.2")).rejects.toThrow(EnvironmentError);
    await expect(ensurePatroni("3.0.2")).rejects.toThrow("npm run setup");
  });
});
