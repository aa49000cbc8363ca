import { describe, expect, it } from "vitest";
import { sleep, waitFor } from "./wait.ts";
import { InterruptedError, ReadinessTimeoutError } from "./errors.ts";

describe("waitFor and the abort signal", () => {
  it("rejects at once with the signal's reason when the signal was aborted before the wait", async () => {
    const abort = new AbortController();
    abort.abort(new InterruptedError("SIGINT"));
    const t0 = performance.now();
    let checks = 0;
    const err = await waitFor({ condition: "never", where: "here", timeoutMs: 20_000, intervalMs: 10, signal: abort.signal }, async () => {
      checks++;
      return false;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(checks).toBe(0);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("stops retrying when the signal fires during a check, instead of running on to the timeout", async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(new InterruptedError("SIGINT")), 50);
    const t0 = performance.now();
    const err = await waitFor({ condition: "never", where: "here", timeoutMs: 20_000, intervalMs: 10, signal: abort.signal }, async () => {
      await sleep(200);
      return false;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("still times out with a named condition when nothing aborts", async () => {
    const err = await waitFor({ condition: "the moon", where: "the sky", timeoutMs: 100, intervalMs: 10 }, async () => false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadinessTimeoutError);
    expect((err as Error).message).toMatch(/waiting for the moon on the sky/);
  });
});
