import pRetry, { AbortError } from "p-retry";
import { ReadinessTimeoutError, errorMessage } from "./errors.ts";

export interface WaitOptions {
  /** What is awaited, e.g. "etcd quorum". */
  condition: string;
  /** Where, e.g. "node n2" or "cluster pgchaos-ab12cd". */
  where: string;
  timeoutMs: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * Polls `check` until it returns a value (anything but undefined/false) or throws nothing; throws a
 * ReadinessTimeoutError naming the condition, the place, the time waited and the last observation.
 */
export async function waitFor<T>(opts: WaitOptions, check: () => Promise<T | undefined | false>): Promise<T> {
  const started = performance.now();
  let last: string | undefined;
  let lastCause: unknown;
  try {
    return await pRetry(
      async () => {
        // An AbortError ends p-retry at once; a plain throw would be retried until the timeout, and p-retry's
        // own signal only reacts to an abort that happens while it waits, not to one that came before.
        if (opts.signal?.aborted) throw new AbortError(abortReason(opts.signal));
        const v = await check();
        if (opts.signal?.aborted) throw new AbortError(abortReason(opts.signal));
        if (v === undefined || v === false) throw new Error("not yet");
        return v;
      },
      {
        forever: true,
        factor: 1,
        minTimeout: opts.intervalMs ?? 100,
        maxTimeout: opts.intervalMs ?? 100,
        maxRetryTime: opts.timeoutMs,
        signal: opts.signal,
        onFailedAttempt: (e) => {
          if (e.message !== "not yet") {
            last = e.message;
            lastCause = e;
          }
          if (performance.now() - started > opts.timeoutMs) throw new AbortError(e);
        },
      },
    );
  } catch (e) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? e;
    if (performance.now() - started >= opts.timeoutMs) {
      throw new ReadinessTimeoutError(opts.condition, opts.where, performance.now() - started, last, lastCause);
    }
    throw e;
  }
}

/**
 * Settles like `p`, or rejects with the signal's reason as soon as it fires. `p` goes on in the background
 * (its rejection is swallowed): use it where the caller tears down what `p` works on.
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? "aborted"));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export { errorMessage };
