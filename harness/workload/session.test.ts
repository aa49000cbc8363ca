import { getEventListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { every } from "./session.ts";

afterEach(() => vi.useRealTimers());

describe("every (real timers, tolerant bounds)", () => {
  it("ticks roughly at the interval until aborted", async () => {
    const ac = new AbortController();
    let ticks = 0;
    const loop = every(20, ac.signal, async () => void ticks++);
    await sleep(200);
    ac.abort();
    await loop;
    // About 10 (one at once, then every 20 ms); a loaded machine may give fewer, never a flood.
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(ticks).toBeLessThanOrEqual(13);
  });

  it("stops promptly on abort during the wait, without another tick", async () => {
    const ac = new AbortController();
    let ticks = 0;
    const loop = every(10_000, ac.signal, async () => void ticks++);
    await sleep(20);
    const t0 = performance.now();
    ac.abort();
    await loop;
    expect(performance.now() - t0).toBeLessThan(200);
    expect(ticks).toBe(1);
  });

  it("does not tick again after an abort during a tick", async () => {
    const ac = new AbortController();
    let ticks = 0;
    await every(1, ac.signal, async () => {
      ticks++;
      ac.abort();
    });
    expect(ticks).toBe(1);
  });

  it("never ticks when already aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    const tick = vi.fn(async () => undefined);
    await every(10, ac.signal, tick);
    expect(tick).not.toHaveBeenCalled();
  });

  it("rejects with the tick's error", async () => {
    const ac = new AbortController();
    await expect(every(5, ac.signal, async () => Promise.reject(new Error("tick broke")))).rejects.toThrow("tick broke");
  });

  it("does not leak abort listeners over many ticks", async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    let ticks = 0;
    await every(1, ac.signal, async () => {
      seen.push(getEventListeners(ac.signal, "abort").length);
      if (++ticks === 50) ac.abort();
    });
    expect(ticks).toBe(50);
    expect(Math.max(...seen)).toBe(0);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });

  it("does not leave a listener behind after an abort during the wait", async () => {
    const ac = new AbortController();
    const loop = every(10_000, ac.signal, async () => undefined);
    await sleep(10);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(1); // the one wait in progress
    ac.abort();
    await loop;
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });
});

describe("every (fake timers, exact)", () => {
  const fake = () => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });

  it("ticks at 0, interval, 2 × interval...", async () => {
    fake();
    const ac = new AbortController();
    const at: number[] = [];
    const loop = every(100, ac.signal, async () => void at.push(performance.now()));
    await vi.advanceTimersByTimeAsync(1000);
    ac.abort();
    await loop;
    expect(at).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
  });

  it("after a slow tick, ticks once at once and then keeps the interval: no catch-up burst", async () => {
    fake();
    const ac = new AbortController();
    const at: number[] = [];
    const loop = every(100, ac.signal, async () => {
      at.push(performance.now());
      if (at.length === 2) await new Promise((r) => setTimeout(r, 550)); // the tick at 100 ends at 650
    });
    await vi.advanceTimersByTimeAsync(1000);
    ac.abort();
    await loop;
    // The ticks due at 200..600 are not replayed: one tick when the slow one ends, then every 100 ms.
    expect(at).toEqual([0, 100, 650, 750, 850, 950]);
  });
});
