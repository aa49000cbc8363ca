import { describe, expect, it } from "vitest";
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT, PG_PORT, REST_PORT, etcdArgs, haproxyConfig, patroniConfig, type PatroniNodeInput } from "./config.ts";
import { getProfile } from "./profiles.ts";

const passwords = { superuser: "su-S3cret!x", replication: "repl-S3cret!y", rewind: "rw-S3cret!z" };

function input(over: Partial<PatroniNodeInput> = {}): PatroniNodeInput {
  return {
    scope: "pgc-abc123",
    name: "n2",
    address: "10.213.45.2",
    etcdHosts: ["10.213.45.1", "10.213.45.2", "10.213.45.3"],
    subnetCidr: "10.213.45.0/24",
    dataDir: "/var/lib/pgchaos/abc123/n2/data",
    socketDir: "/var/lib/pgchaos/abc123/n2/sock",
    logDir: "/var/lib/pgchaos/abc123/n2/log",
    pgpass: "/var/lib/pgchaos/abc123/n2/pgpass",
    binDir: "/usr/lib/postgresql/15/bin",
    profile: getProfile("fast"),
    passwords,
    ...over,
  };
}

/** Navigates the untyped config object; fails the test if a key is missing. */
function at(obj: unknown, ...path: string[]): any {
  let cur: any = obj;
  for (const k of path) {
    expect(cur, `missing ${path.join(".")}`).toBeTypeOf("object");
    expect(cur, `missing ${path.join(".")}`).toHaveProperty([k]);
    cur = cur[k];
  }
  return cur;
}

/** Every [path, value] pair of string leaves in a nested object/array. */
function leaves(obj: unknown, path: string[] = []): Array<[string, unknown]> {
  if (obj === null || typeof obj !== "object") return [[path.join("."), obj]];
  return Object.entries(obj).flatMap(([k, v]) => leaves(v, [...path, k]));
}

describe("patroniConfig", () => {
  it("names the member and its scope", () => {
    const c = patroniConfig(input());
    expect(at(c, "scope")).toBe("pgc-abc123");
    expect(at(c, "name")).toBe("n2");
  });

  it("uses the member's own address for REST and PostgreSQL, on the standard ports", () => {
    const c = patroniConfig(input());
    expect(at(c, "restapi", "listen")).toBe(`10.213.45.2:${REST_PORT}`);
    expect(at(c, "restapi", "connect_address")).toBe("10.213.45.2:8008");
    expect(at(c, "postgresql", "listen")).toBe(`10.213.45.2:${PG_PORT}`);
    expect(at(c, "postgresql", "connect_address")).toBe("10.213.45.2:5432");
    const other = patroniConfig(input({ name: "n3", address: "10.213.45.3" }));
    expect(at(other, "restapi", "listen")).toBe("10.213.45.3:8008");
    expect(at(other, "postgresql", "connect_address")).toBe("10.213.45.3:5432");
  });

  it("lists every etcd member as an etcd3 host on the client port 2379", () => {
    const c = patroniConfig(input());
    expect(ETCD_CLIENT_PORT).toBe(2379);
    expect(at(c, "etcd3", "hosts")).toEqual(["10.213.45.1:2379", "10.213.45.2:2379", "10.213.45.3:2379"]);
  });

  it("puts the profile's DCS values into bootstrap.dcs", () => {
    const fast = patroniConfig(input({ profile: getProfile("fast") }));
    expect(at(fast, "bootstrap", "dcs")).toMatchObject({ ttl: 10, loop_wait: 1, retry_timeout: 4, synchronous_mode: false });
    const dflt = patroniConfig(input({ profile: getProfile("default", { sync: true }) }));
    expect(at(dflt, "bootstrap", "dcs")).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10, synchronous_mode: true });
  });

  it("puts the profile's PostgreSQL parameters into bootstrap.dcs.postgresql.parameters, over the base ones", () => {
    const profile = getProfile("fast");
    profile.postgresql = { ...profile.postgresql, max_connections: 77, synchronous_commit: "remote_apply" };
    const params = at(patroniConfig(input({ profile })), "bootstrap", "dcs", "postgresql", "parameters");
    expect(params.wal_sender_timeout).toBe("10s");
    expect(params.wal_receiver_timeout).toBe("10s");
    expect(params.synchronous_commit).toBe("remote_apply");
    expect(params.max_connections).toBe(77);
    // Base replication settings are still there.
    expect(params).toMatchObject({ wal_level: "replica", hot_standby: "on", wal_log_hints: "on" });
    // The profile's parameters are cluster-wide (DCS), not per-member local settings.
    expect(at(patroniConfig(input({ profile })), "postgresql", "parameters")).not.toHaveProperty("wal_sender_timeout");
  });

  it("enables pg_rewind and slots in the DCS", () => {
    const dcsPg = at(patroniConfig(input()), "bootstrap", "dcs", "postgresql");
    expect(dcsPg.use_pg_rewind).toBe(true);
    expect(dcsPg.use_slots).toBe(true);
  });

  it("puts passwords in postgresql.authentication and nowhere else", () => {
    const c = patroniConfig(input());
    const auth = at(c, "postgresql", "authentication");
    expect(auth.superuser).toEqual({ username: "postgres", password: passwords.superuser });
    expect(auth.replication).toEqual({ username: "replicator", password: passwords.replication });
    expect(auth.rewind).toEqual({ username: "rewind_user", password: passwords.rewind });
    const secrets = Object.values(passwords);
    const holders = leaves(c).filter(([, v]) => typeof v === "string" && secrets.some((s) => v.includes(s)));
    expect(holders.map(([p]) => p).sort()).toEqual([
      "postgresql.authentication.replication.password",
      "postgresql.authentication.rewind.password",
      "postgresql.authentication.superuser.password",
    ]);
  });

  it("uses the member's own socket and log directories, outside the data directory", () => {
    const n = input();
    const c = patroniConfig(n);
    const params = at(c, "postgresql", "parameters");
    expect(params.unix_socket_directories).toBe(n.socketDir);
    expect(params.log_directory).toBe(n.logDir);
    expect(params.logging_collector).toBe("on");
    expect(at(c, "postgresql", "data_dir")).toBe(n.dataDir);
    expect(at(c, "postgresql", "bin_dir")).toBe(n.binDir);
    expect(at(c, "postgresql", "pgpass")).toBe(n.pgpass);
    for (const dir of [params.unix_socket_directories, params.log_directory]) {
      expect(dir.startsWith(`${n.dataDir}/`)).toBe(false);
      expect(dir).not.toBe(n.dataDir);
    }
  });

  it("turns the watchdog off", () => {
    expect(at(patroniConfig(input()), "watchdog", "mode")).toBe("off");
  });

  it("lets the subnet in with scram-sha-256, for replication too, from the dynamic configuration only", () => {
    const cfg = patroniConfig(input({ subnetCidr: "10.213.9.0/24" }));
    const hba: string[] = at(cfg, "bootstrap", "dcs", "postgresql", "pg_hba");
    // A local list would override the dynamic one, and `patronictl edit-config` could not change it.
    expect(at(cfg, "postgresql")).not.toHaveProperty("pg_hba");
    expect(hba).toContain("host replication replicator 10.213.9.0/24 scram-sha-256");
    expect(hba).toContain("host all all 10.213.9.0/24 scram-sha-256");
    expect(hba.filter((l) => l.startsWith("host")).every((l) => l.endsWith("scram-sha-256"))).toBe(true);
  });
});

describe("etcdArgs", () => {
  const cluster = [
    { name: "n1", address: "10.213.45.1" },
    { name: "n2", address: "10.213.45.2" },
    { name: "n3", address: "10.213.45.3" },
  ];
  const args = etcdArgs({ name: "n2", address: "10.213.45.2", dataDir: "/work/n2/etcd", cluster, token: "pgc-abc123" });
  const flag = (f: string) => {
    const i = args.indexOf(f);
    expect(i, `flag ${f}`).toBeGreaterThanOrEqual(0);
    return args[i + 1];
  };

  it("lists every member in --initial-cluster with its peer URL", () => {
    expect(ETCD_PEER_PORT).toBe(2380);
    expect(flag("--initial-cluster")).toBe("n1=http://10.213.45.1:2380,n2=http://10.213.45.2:2380,n3=http://10.213.45.3:2380");
    expect(flag("--initial-cluster-state")).toBe("new");
    expect(flag("--initial-cluster-token")).toBe("pgc-abc123");
  });

  it("names the member and advertises its own address", () => {
    expect(flag("--name")).toBe("n2");
    expect(flag("--data-dir")).toBe("/work/n2/etcd");
    expect(flag("--advertise-client-urls")).toBe("http://10.213.45.2:2379");
    expect(flag("--initial-advertise-peer-urls")).toBe("http://10.213.45.2:2380");
    expect(flag("--listen-peer-urls")).toBe("http://10.213.45.2:2380");
    expect(flag("--listen-client-urls")!.split(",")).toEqual(["http://10.213.45.2:2379", "http://127.0.0.1:2379"]);
  });

  it("uses the documented heartbeat and election timeout", () => {
    expect(flag("--heartbeat-interval")).toBe("100");
    expect(flag("--election-timeout")).toBe("1000");
  });

  it("has a value after every --flag that takes one", () => {
    for (let i = 0; i < args.length; i++) {
      if (args[i]!.startsWith("--") && !args[i]!.includes("=")) expect(args[i + 1]?.startsWith("--"), args[i]).toBe(false);
    }
  });
});

describe("haproxyConfig", () => {
  const members = [
    { name: "n1", address: "10.213.45.1" },
    { name: "n2", address: "10.213.45.2" },
    { name: "n3", address: "10.213.45.3" },
  ];
  const cfg = haproxyConfig({ bind: "10.213.45.254", port: 5000, members, pidFile: "/work/abc123/haproxy.pid" });
  const lines = cfg.split("\n").map((l) => l.trim());

  it("binds the given address and port", () => {
    expect(lines).toContain("bind 10.213.45.254:5000");
  });

  it("health-checks GET /primary and expects 200", () => {
    expect(lines).toContain("option httpchk GET /primary");
    expect(lines).toContain("http-check expect status 200");
  });

  it("has one server line per member: PostgreSQL port, checked on the REST port", () => {
    const servers = lines.filter((l) => l.startsWith("server "));
    expect(servers).toHaveLength(3);
    for (const [i, m] of members.entries()) {
      const words = servers[i]!.split(/\s+/);
      expect(words.slice(0, 3)).toEqual(["server", m.name, `${m.address}:5432`]);
      expect(words[words.indexOf("check") + 1]).toBe("port");
      expect(words[words.indexOf("port") + 1]).toBe(String(REST_PORT));
      // A demoted primary's sessions are cut, not left writing to a replica-to-be.
      expect(servers[i]).toContain("on-marked-down shutdown-sessions");
    }
  });

  it("puts the server lines in the primary listen section and writes the pid file", () => {
    const listen = lines.indexOf("listen primary");
    expect(listen).toBeGreaterThan(lines.indexOf("defaults"));
    expect(lines.findIndex((l) => l.startsWith("server "))).toBeGreaterThan(listen);
    expect(lines).toContain("pidfile /work/abc123/haproxy.pid");
    expect(lines).toContain("mode tcp");
  });

  it("follows the member list", () => {
    const one = haproxyConfig({ bind: "127.0.0.1", port: 6432, members: [members[1]!], pidFile: "/p" });
    const servers = one.split("\n").filter((l) => l.trim().startsWith("server "));
    expect(servers).toHaveLength(1);
    expect(servers[0]).toContain("server n2 10.213.45.2:5432");
    expect(one).toContain("bind 127.0.0.1:6432");
  });
});

describe("bring-up overrides", () => {
  it("bootstrap with the short bring-up settings whatever the profile", async () => {
    const { BRING_UP } = await import("./config.ts");
    const cfg = patroniConfig(input({ profile: getProfile("default"), bringUp: BRING_UP }));
    expect(at(cfg, "bootstrap", "dcs")).toMatchObject({ ttl: 10, loop_wait: 1, retry_timeout: 4 });
    expect(at(cfg, "bootstrap", "dcs", "postgresql", "parameters", "wal_retrieve_retry_interval")).toBe("100ms");
    // The profile's other settings are untouched.
    expect(at(cfg, "bootstrap", "dcs", "postgresql", "parameters", "wal_sender_timeout")).toBe("60s");
  });

  it("without bring-up the profile's own values are bootstrapped", () => {
    const cfg = patroniConfig(input({ profile: getProfile("default") }));
    expect(at(cfg, "bootstrap", "dcs")).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10 });
    expect(at(cfg, "bootstrap", "dcs", "postgresql", "parameters", "wal_retrieve_retry_interval")).toBe("5s");
  });

  it("profileRestore puts back exactly the profile's values of every overridden key", async () => {
    const { BRING_UP, profileRestore } = await import("./config.ts");
    const restore = profileRestore(getProfile("default"));
    expect(restore).toEqual({ ttl: 30, loop_wait: 10, retry_timeout: 10, postgresql: { parameters: { wal_retrieve_retry_interval: "5s" } } });
    expect(Object.keys(restore).filter((k) => k !== "postgresql").sort()).toEqual(Object.keys(BRING_UP.dcs).sort());
  });
});

describe("reportedSettings", () => {
  it("reports the profile's timings and what the platform adds, the same way on every platform", async () => {
    const { reportedSettings } = await import("./config.ts");
    const s = reportedSettings(getProfile("default"), 3, "etcd3", { image: "x:1" });
    expect(s).toMatchObject({ profile: "default", ttl: 30, loop_wait: 10, retry_timeout: 10, nodes: 3, dcs: "etcd3", image: "x:1", stack: "patroni" });
    expect(s.postgresql).toMatchObject({ wal_sender_timeout: "60s" });
    expect(String(s.bring_up)).toContain('"loop_wait":1');
  });
});
