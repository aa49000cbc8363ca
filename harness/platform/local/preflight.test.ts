import { describe, expect, it } from "vitest";
import { PG_BIN_DIR, REQUIRED, missingBinaries } from "./preflight.ts";

describe("missingBinaries", () => {
  it("returns nothing when every binary exists", () => {
    expect(missingBinaries(() => true)).toEqual([]);
  });

  it("returns every required binary when none exists", () => {
    const missing = missingBinaries(() => false);
    expect(missing).toEqual(REQUIRED);
    expect(missing.map((m) => m.path)).toEqual(
      expect.arrayContaining(["/usr/sbin/ip", "/usr/sbin/iptables", "/usr/bin/patroni", "/usr/bin/etcd", "/usr/sbin/haproxy"]),
    );
  });

  it("asks about each required path exactly once", () => {
    const asked: string[] = [];
    missingBinaries((p) => {
      asked.push(p);
      return true;
    });
    expect(asked).toEqual(REQUIRED.map((r) => r.path));
  });

  it("reports only the missing ones, with the Debian package that provides each", () => {
    const absent = new Set(["/usr/bin/etcdctl", `${PG_BIN_DIR}/postgres`, "/usr/sbin/haproxy"]);
    expect(missingBinaries((p) => !absent.has(p))).toEqual([
      { path: "/usr/bin/etcdctl", pkg: "etcd-client" },
      { path: "/usr/sbin/haproxy", pkg: "haproxy" },
      { path: "/usr/lib/postgresql/15/bin/postgres", pkg: "postgresql-15" },
    ]);
  });

  it("maps util-linux binaries to util-linux", () => {
    const missing = missingBinaries((p) => !["/usr/bin/setpriv", "/usr/bin/ipcrm"].includes(p));
    expect(missing.map((m) => m.pkg)).toEqual(["util-linux", "util-linux"]);
  });
});
