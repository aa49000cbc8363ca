/**
 * Whether a failed write definitely did not happen ("fail") or may have committed ("info").
 * Only a statement the server rejected with an ordinary ERROR is a definite failure; anything that ends
 * the session or the socket after the statement was sent leaves the commit state unknown (a FATAL
 * can follow a local commit, for example when a synchronous-replication wait is cancelled).
 */
export type WriteOutcome = "fail" | "info";

export interface PgErrorLike {
  message?: string;
  code?: string;
  severity?: string;
}

/**
 * The SQLSTATE of an error the server sent. Only a server ErrorResponse carries a severity; Node socket
 * errors carry a `code` too, and some ("EPIPE", "EBUSY") have the five-character shape of a SQLSTATE.
 */
function sqlState(err: unknown): string | undefined {
  const e = (err ?? {}) as PgErrorLike;
  return typeof e.severity === "string" && typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
}

export function classifyWriteError(err: unknown, sent: boolean): WriteOutcome {
  if (!sent) return "fail";
  const e = (err ?? {}) as PgErrorLike;
  const code = sqlState(err);
  if (!code) return "info"; // socket closed, reset, client-side timeout: no answer from the server
  if (e.severity === "FATAL" || e.severity === "PANIC") return "info";
  if (code.startsWith("08") || code.startsWith("57")) return "info";
  return "fail";
}

export function describeError(err: unknown): string {
  const e = (err ?? {}) as PgErrorLike;
  const msg = e.message ?? String(err);
  const code = sqlState(err);
  return code ? `${code} ${msg}` : msg;
}

/** True for "cannot execute INSERT in a read-only transaction" (a standby, or a demoted primary). */
export function isReadOnlyError(err: unknown): boolean {
  return (err as PgErrorLike | undefined)?.code === "25006";
}
