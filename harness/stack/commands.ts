/** Helpers for stacks driven through commands run on their nodes (pg_auto_failover, repmgr). */

/** A string as an SQL literal. */
export const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Throws for a command that failed, with its exit code and the end of its output. */
export function commandFailed(what: string, r: { code: number; stdout: string; stderr: string }): never {
  const tail = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-8).join("\n");
  throw new Error(`${what} exited ${r.code}:\n${tail}`);
}
