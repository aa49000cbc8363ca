/** A mistake in how pgchaos was called or configured: exit code 2, message says how to fix it. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The machine cannot run what was asked (missing package, not root...): exit code 2. */
export class EnvironmentError extends Error {
  override name = "EnvironmentError";
}

/** A named readiness condition was not met in time. */
export class ReadinessTimeoutError extends Error {
  override name = "ReadinessTimeoutError";
  constructor(
    readonly condition: string,
    readonly where: string,
    readonly waitedMs: number,
    readonly lastError?: string,
    /** The last observation as thrown, for callers that act on what it was (not only its text). */
    readonly lastCause?: unknown,
  ) {
    super(
      `timed out after ${(waitedMs / 1000).toFixed(1)} s waiting for ${condition} on ${where}` +
        (lastError ? `: last observation: ${lastError}` : ""),
    );
  }
}

export class InterruptedError extends Error {
  override name = "InterruptedError";
  constructor(signal: string) {
    super(`interrupted by ${signal}`);
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
