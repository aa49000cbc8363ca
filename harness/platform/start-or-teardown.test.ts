import { describe, expect, it } from "vitest";
import pino from "pino";
import { startOrTearDown } from "./start-or-teardown.ts";

function recorder(teardownFails = false) {
  const calls: string[] = [];
  return {
    calls,
    collectLogs: async () => void calls.push("collectLogs"),
    teardown: async () => {
      calls.push("teardown");
      if (teardownFails) throw new Error("teardown broke");
    },
  };
}

describe("startOrTearDown", () => {
  const log = pino({ level: "silent" });

  it("returns the cluster when its start succeeds, touching nothing else", async () => {
    const c = recorder();
    expect(await startOrTearDown(c, log, async () => void c.calls.push("start"))).toBe(c);
    expect(c.calls).toEqual(["start"]);
  });

  it("keeps the logs, tears down and rethrows the start's own error when the start fails", async () => {
    const c = recorder(true);
    await expect(startOrTearDown(c, log, async () => Promise.reject(new Error("no leader within 60 s")))).rejects.toThrow("no leader within 60 s");
    expect(c.calls).toEqual(["collectLogs", "teardown"]);
  });
});
