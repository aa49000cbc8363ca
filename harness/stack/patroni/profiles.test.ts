import { describe, expect, it } from "vitest";
import { getProfile, profileNames, profiles } from "./profiles.ts";

describe("profiles", () => {
  it("offers default and fast", () => {
    expect(profileNames()).toEqual(expect.arrayContaining(["default", "fast"]));
  });

  it("default is Patroni's own defaults: ttl 30, loop_wait 10, retry_timeout 10", () => {
    const p = getProfile("default");
    expect(p.name).toBe("default");
    expect(p.dcs).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10, synchronous_mode: false, maximum_lag_on_failover: 1048576 });
    expect(p.postgresql.wal_sender_timeout).toBe("60s");
  });

  it("fast fails over aggressively: ttl 10, loop_wait 1, retry_timeout 4, wal_sender_timeout 10s", () => {
    const p = getProfile("fast");
    expect(p.name).toBe("fast");
    expect(p.dcs).toMatchObject({ ttl: 10, loop_wait: 1, retry_timeout: 4, synchronous_mode: false });
    expect(p.postgresql.wal_sender_timeout).toBe("10s");
    expect(p.postgresql.wal_receiver_timeout).toBe("10s");
    // The rest of the DCS settings stay at Patroni's defaults.
    const { ttl: _t, loop_wait: _l, retry_timeout: _r, ...rest } = p.dcs;
    const { ttl: _t2, loop_wait: _l2, retry_timeout: _r2, ...defaults } = getProfile("default").dcs;
    expect(rest).toEqual(defaults);
  });

  it.each(profileNames())("%s satisfies Patroni's rule loop_wait + 2 * retry_timeout <= ttl", (name) => {
    const { dcs } = getProfile(name);
    expect(dcs.loop_wait + 2 * dcs.retry_timeout).toBeLessThanOrEqual(dcs.ttl);
  });

  it("returns a copy: mutating it leaks neither into the table nor into the next call", () => {
    const a = getProfile("fast");
    a.dcs.ttl = 999;
    a.postgresql.wal_sender_timeout = "1h";
    a.name = "mutated";
    expect(profiles.fast!.dcs.ttl).toBe(10);
    expect(profiles.fast!.postgresql.wal_sender_timeout).toBe("10s");
    const b = getProfile("fast");
    expect(b.name).toBe("fast");
    expect(b.dcs.ttl).toBe(10);
    expect(b.postgresql.wal_sender_timeout).toBe("10s");
  });

  it("sync turns on synchronous_mode and names the profile <name>+sync, without touching the original", () => {
    const s = getProfile("fast", { sync: true });
    expect(s.name).toBe("fast+sync");
    expect(s.dcs.synchronous_mode).toBe(true);
    expect(s.dcs.ttl).toBe(10);
    expect(getProfile("default", { sync: true }).name).toBe("default+sync");
    expect(profiles.fast!.dcs.synchronous_mode).toBe(false);
    expect(profiles.fast!.name).toBe("fast");
    expect(getProfile("fast", { sync: false }).dcs.synchronous_mode).toBe(false);
  });

  it("rejects an unknown profile and lists the known names", () => {
    expect(() => getProfile("turbo")).toThrow('unknown profile "turbo": choose one of default, fast');
  });

  it.each(["constructor", "toString", "__proto__", "hasOwnProperty"])(
    "rejects %s rather than resolving it through Object.prototype",
    (name) => {
      expect(() => getProfile(name)).toThrow(`unknown profile "${name}"`);
    },
  );
});
