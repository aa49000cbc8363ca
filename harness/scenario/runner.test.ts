import { describe, expect, it } from "vitest";
import { getProfile } from "../stack/patroni/profiles.ts";
import { loadScenario } from "./loader.ts";
import { attachedExpectations, expectationsFor } from "./runner.ts";

describe("the expectations of an attached cluster", () => {
  it("take the lag bound from the cluster's own settings, never the profile's: none for a cluster that states none", async () => {
    const s = await loadScenario("primary-kill");
    const fast = getProfile("fast");
    expect(expectationsFor(s, fast).maximumLagOnFailover).toBe(fast.dcs.maximum_lag_on_failover);
    // CloudNativePG: no maximum_lag_on_failover in its settings.
    expect(attachedExpectations(s, fast, 1, { cloudnativePg: "1.24.1", failoverDelay: 0 })).not.toHaveProperty("maximumLagOnFailover");
    // An attached Patroni's own, read from its dynamic configuration.
    expect(attachedExpectations(s, fast, 1, { ttl: 30, maximum_lag_on_failover: 65536 }).maximumLagOnFailover).toBe(65536);
    expect(attachedExpectations(s, fast, 1, { maximum_lag_on_failover: "131072" }).maximumLagOnFailover).toBe(131072);
    expect(attachedExpectations(s, fast, 1, { maximum_lag_on_failover: "lots" })).not.toHaveProperty("maximumLagOnFailover");
    // The bounds follow the cluster's ttl.
    expect(attachedExpectations(s, fast, 3, {}).maxWriteUnavailableMs).toBe(expectationsFor(s, fast, 3).maxWriteUnavailableMs);
  });
});
