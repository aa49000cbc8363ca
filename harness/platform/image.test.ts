import { describe, expect, it, onTestFinished } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { execa } from "execa";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bookwormVersionIn, policySections, DEBOOTSTRAP_BASE, hostIsBookworm, imageRecipe, REGISTRY_BASE, FETCH_CHECKED, stackDir, stackLayer, versionGone } from "./image.ts";
import { assertPinnedImage } from "./kube/image.ts";
import { PatroniHaStack } from "../stack/patroni/stack.ts";
import { parseStack } from "../stack/patroni/versions.ts";
import { EnvironmentError } from "../util/errors.ts";

const here = { canDebootstrap: true };
const dpkg = (p: string) => execFileSync("dpkg-query", ["-W", "-f=${Version}", p], { encoding: "utf8" });

describe("the member image of every container platform", () => {
  // Where the local platform runs: Debian 12 with its packages from the archive.
  it.skipIf(!hostIsBookworm())("pins the versions the local platform runs here, and is tagged by everything that goes into it", () => {
    const r = imageRecipe(here);
    expect(r.packages).toContain(`patroni=${dpkg("patroni")}`);
    expect(r.packages).toContain(`postgresql-15=${dpkg("postgresql-15")}`);
    expect(r.pinned).toBe(true);
    expect(r.tag).toMatch(/^pgchaos\/member:patroni-3\.0\.2-pg15-[0-9a-f]{12}$/);
    expect(imageRecipe(here).tag).toBe(r.tag);
    // The Kubernetes platforms refuse unpinned tags: this one names its Patroni.
    expect(() => assertPinnedImage(r.tag)).not.toThrow();
    expect(Object.keys(r.scripts)).toEqual(["pod-init.sh", "pgchaos-ctl.sh"]);
    // postgres is 999:999, what the Kubernetes manifests run as.
    expect(r.dockerfile).toMatch(/useradd --system --uid 999 --gid 999 .* postgres/);
    expect(r.dockerfile).toMatch(/create_main_cluster = false/);
  }, 30_000); // apt-cache loads apt's whole cache: seconds on a loaded machine

  it("reads each package's part of one apt-cache policy answer for several packages", () => {
    const text = [
      "patroni:", "  Installed: 3.0.2-1", "  Candidate: 3.0.2-1", "  Version table:", " *** 3.0.2-1 500",
      "        500 http://deb.debian.org/debian bookworm/main amd64 Packages",
      "haproxy:", "  Installed: 2.6.12-1+deb12u4", "  Candidate: 2.6.12-1+deb12u4", "  Version table:", " *** 2.6.12-1+deb12u4 500",
      "        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages",
      "etcd-client:", "  Installed: (none)", "  Candidate: 3.4.23-4+b6", "  Version table:", "     3.4.23-4+b6 500",
      "        500 http://deb.debian.org/debian bookworm/main amd64 Packages", "",
    ].join("\n");
    const parts = policySections(text);
    expect([...parts.keys()]).toEqual(["patroni", "haproxy", "etcd-client"]);
    expect(bookwormVersionIn(parts.get("patroni")!)).toBe("3.0.2-1");
    expect(bookwormVersionIn(parts.get("haproxy")!)).toBe("2.6.12-1+deb12u4");
    expect(bookwormVersionIn(parts.get("etcd-client")!)).toBeUndefined();
  });

  it("builds on debootstrap where it runs, on debian:bookworm-slim elsewhere, and on what PGCHAOS_IMAGE_BASE names", () => {
    expect(imageRecipe(here).base).toEqual({ ref: DEBOOTSTRAP_BASE, debootstrap: true });
    const elsewhere = imageRecipe({ canDebootstrap: false, installed: () => undefined });
    expect(elsewhere.base).toEqual({ ref: REGISTRY_BASE, debootstrap: false });
    // Without dpkg nothing can be pinned to a local version, and the recipe says so; the tag differs.
    expect(elsewhere.pinned).toBe(false);
    expect(elsewhere.packages).toContain("patroni");
    expect(elsewhere.tag).not.toBe(imageRecipe(here).tag);
    expect(imageRecipe({ ...here, base: "registry.example.com/debian:12.8-slim" }).base).toEqual({ ref: "registry.example.com/debian:12.8-slim", debootstrap: false });
    expect(() => imageRecipe({ canDebootstrap: false, base: "debootstrap" })).toThrow(EnvironmentError);
  });

  it("pins to this machine's versions only on Debian 12, whose archive has them", () => {
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-os-release-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const os = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    expect(hostIsBookworm(os("debian12", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'))).toBe(true);
    expect(hostIsBookworm(os("ubuntu", "ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n"))).toBe(false);
    expect(hostIsBookworm(os("trixie", "ID=debian\nVERSION_CODENAME=trixie\n"))).toBe(false);
    expect(hostIsBookworm(join(dir, "missing"))).toBe(false);
  });

  it("pins a version only where Debian 12's archive serves it, not PGDG's, backports' or one the archive dropped", () => {
    const policy = (installed: string, origins: string[]) => `pkg:\n  Installed: ${installed}\n  Version table:\n *** ${installed} 500\n${origins.map((o) => `        ${o}\n`).join("")}`;
    expect(bookwormVersionIn(policy("3.0.2-1", ["500 http://deb.debian.org/debian bookworm/main amd64 Packages", "100 /var/lib/dpkg/status"]))).toBe("3.0.2-1");
    expect(bookwormVersionIn(policy("15.20-0+deb12u1", ["500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages"]))).toBe("15.20-0+deb12u1");
    expect(bookwormVersionIn(policy("15.10-1.pgdg120+1", ["500 http://apt.postgresql.org/pub/repos/apt bookworm-pgdg/main amd64 Packages"]))).toBeUndefined();
    expect(bookwormVersionIn(policy("4.0.4-1~bpo12+1", ["100 http://deb.debian.org/debian bookworm-backports/main amd64 Packages"]))).toBeUndefined();
    // Installed, then superseded: only dpkg's status still knows it.
    expect(bookwormVersionIn(`pkg:\n  Version table:\n     15.20 500\n        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages\n *** 15.17 100\n        100 /var/lib/dpkg/status\n`)).toBeUndefined();
    expect(bookwormVersionIn("pkg:\n  Installed: (none)\n")).toBeUndefined();
  });

  it("knows apt's answer for a pinned version the archive dropped, which makes the build fall back to bookworm's current one", () => {
    expect(versionGone("E: Version '15.18-0+deb12u1' for 'postgresql-15' was not found")).toBe(true);
    expect(versionGone("E: Unable to locate package postgresql-15")).toBe(false);
  });

  it("gives another Patroni a layer built from Debian's archive, checked against its pinned SHA-256, with a tag that names it", () => {
    const recipe = imageRecipe(here);
    const system = new PatroniHaStack(parseStack("patroni@3.0.2"), { bin: "/usr/bin/patroni", patronictl: "/usr/bin/patronictl", version: "3.0.2", sha256: undefined, source: "test" });
    // Debian 12's Patroni is the member image itself: no layer, the member's tag.
    expect(stackLayer(system, recipe.tag)).toBeUndefined();
    const v = parseStack("patroni@4.1.5");
    // Where this machine installed it does not matter: nothing of the host goes into the layer.
    const other = (bin: string) => new PatroniHaStack(v, { bin, patronictl: "x", version: "4.1.5", sha256: v.debian.sha256, source: "test" });
    const tag = stackLayer(other("/var/cache/pgchaos/stacks/patroni-4.1.5/bin/patroni"), recipe.tag)!.tag;
    expect(tag).toMatch(/^pgchaos\/member:patroni-4\.1\.5-pg15-[0-9a-f]{12}$/);
    expect(stackLayer(other("/elsewhere/bin/patroni"), recipe.tag)!.tag).toBe(tag);
    const layer = stackLayer(other("x"), recipe.tag)!;
    expect(layer.dockerfile).toContain(`FROM ${recipe.tag}`);
    expect(layer.dockerfile).toContain(`http://deb.debian.org/debian/${v.debian.pool} ${v.debian.sha256}`);
    expect(layer.dockerfile).toContain('test "$(patroni --version)" = "patroni 4.1.5"');
    expect(layer.files.patroni).toContain(`SITE = "${stackDir(other("x"))}/root/usr/lib/python3/dist-packages"`);
    // Another member image, another layer.
    expect(stackLayer(other("x"), "pgchaos/member:patroni-3.0.2-pg15-000000000000")!.tag).not.toBe(tag);
  });

});

describe("the download a stack layer makes in its build", () => {
  it("keeps the file only when its SHA-256 is the pinned one", async () => {
    const body = Buffer.from("a package, as far as this test goes");
    const server = createServer((_req, res) => res.end(body));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/p.deb`;
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-fetch-"));
    try {
      const good = createHash("sha256").update(body).digest("hex");
      const ok = await execa("python3", ["-c", FETCH_CHECKED, url, good, join(dir, "ok.deb")], { reject: false });
      expect(ok.exitCode).toBe(0);
      expect(readFileSync(join(dir, "ok.deb"))).toEqual(body);
      const bad = await execa("python3", ["-c", FETCH_CHECKED, url, "0".repeat(64), join(dir, "bad.deb")], { reject: false });
      expect(bad.exitCode).not.toBe(0);
      expect(bad.stderr).toContain(`sha256 ${good} of ${url} is not the pinned ${"0".repeat(64)}`);
      expect(existsSync(join(dir, "bad.deb"))).toBe(false);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
