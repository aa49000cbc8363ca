import { describe, expect, it } from "vitest";
import pino from "pino";
import { defaultPatroniStack } from "./default.ts";
import { getProfile } from "./profiles.ts";
import { haproxyConfig } from "./config.ts";
import { PatroniHaStack } from "./stack.ts";
import { stackOf } from "./versions.ts";
import type { LocalNode, LocalRun } from "../local.ts";

const node = (i: number): LocalNode => ({
  name: `n${i}`,
  address: `10.213.7.${i}`,
  dir: `/var/tmp/pgchaos/abc123/n${i}`,
  dataDir: `/var/tmp/pgchaos/abc123/n${i}/data`,
  logDir: `/var/tmp/pgchaos/abc123/n${i}/log`,
  spawn: () => {
    throw new Error("no process in a unit test");
  },
  exec: () => {
    throw new Error("no process in a unit test");
  },
});

const run: LocalRun = {
  runId: "abc123",
  nodes: [node(1), node(2), node(3)],
  services: [],
  subnetCidr: "10.213.7.0/24",
  pgBinDir: "/usr/lib/postgresql/15/bin",
  passwords: { superuser: "S3cret-su", replication: "S3cret-repl", rewind: "S3cret-rw" },
  credentials: { user: "postgres", password: "S3cret-su", database: "postgres" },
  endpoint: (n) => ({ host: n, port: 5432 }),
  readyTimeoutMs: 60_000,
  log: pino({ level: "silent" }),
  assertNotTornDown: () => undefined,
};

describe("Patroni's parts on the local platform", () => {
  const parts = defaultPatroniStack().local(getProfile("fast"), run);

  it("runs Patroni on the node's own patroni.yml, logging into the node's log folder", () => {
    expect(parts.agent(run.nodes[1]!)).toEqual({
      argv: ["/usr/bin/patroni", "/var/tmp/pgchaos/abc123/n2/patroni.yml"],
      logFile: "/var/tmp/pgchaos/abc123/n2/log/patroni.log",
      env: { HOME: "/var/tmp/pgchaos/abc123/n2", PYTHONUNBUFFERED: "1" },
    });
    expect(parts.programs.map((p) => p.path)).toEqual(["/usr/bin/patroni", "/usr/lib/postgresql/15/bin/initdb"]);
  });

  it("has an etcd member per node, and haproxy asks Patroni's REST API who is primary", () => {
    expect(parts.dcs?.name).toBe("etcd3");
    expect(parts.primaryCheck).toEqual({ port: 8008, path: "/primary" });
    const cfg = haproxyConfig({ bind: "10.213.7.254", port: 5432, members: [...run.nodes], pidFile: "/p", check: { port: 6010, path: "/is-primary" } });
    expect(cfg).toContain("option httpchk GET /is-primary");
    expect(cfg).toContain("server n1 10.213.7.1:5432 maxconn 100 check port 6010");
  });

  it("reports the stack and its settings, and leaves the passwords out of the report's config", () => {
    expect(parts.settings).toMatchObject({ stack: "patroni@3.0.2", dcs: "etcd3", ttl: 10, loop_wait: 1 });
    const files = parts.redactedFiles(run.nodes[0]!);
    expect(Object.keys(files)).toEqual(["patroni.yml"]);
    expect(files["patroni.yml"]).toContain("<redacted>");
    expect(files["patroni.yml"]).not.toMatch(/S3cret/);
    expect(files["patroni.yml"]).toContain("name: n1");
  });

  it("on Patroni 4.x reports the ttl it raised and how long it keeps a departed member's slot", () => {
    const four = new PatroniHaStack(stackOf("4.0.7"), { bin: "/cache/patroni-4.0.7/bin/patroni", patronictl: "/x", version: "4.0.7", sha256: undefined, source: "test" });
    const p = four.local(getProfile("fast"), run);
    expect(p.settings).toMatchObject({ stack: "patroni@4.0.7", ttl: 20, member_slots_ttl: 1800 });
    expect(p.settings.adjustedByStack).toEqual([expect.stringMatching(/^ttl 10 → 20: Patroni 4.0.7 raises ttl below 20 to 20/)]);
    expect(parts.settings.member_slots_ttl).toBeUndefined();
  });
});
