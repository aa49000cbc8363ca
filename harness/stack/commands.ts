import type { LocalNode } from "./local.ts";
import type { AgentApi } from "./types.ts";

/** Helpers for stacks driven through commands run on their nodes (pg_auto_failover, repmgr). */

/** A string as an SQL literal. */
export const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * psql running the SQL script on its standard input against `target` (psql's connection options): stops at the first
 * error, with that error's exit status (3), and reads no ~/.psqlrc.
 */
export function psqlScript(...target: string[]): string[] {
  return ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-q", ...target, "-f", "-"];
}

/** Throws for a command that failed, with its exit code and the end of its output. */
export function commandFailed(what: string, r: { code: number; stdout: string; stderr: string }): never {
  const tail = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-8).join("\n");
  throw new Error(`${what} exited ${r.code}:\n${tail}`);
}

/**
 * The agent API of a stack driven by its CLI on the local platform: EXEC requests run on the node as `command` says
 * (the node, the command line, its environment); an HTTP request is an error naming the stack. `body` is the output,
 * with standard error too when the command failed.
 */
export function cliAgentApi(stack: string, command: (node: string, argv: string[]) => { node: LocalNode; argv: string[]; env: Record<string, string> }): AgentApi {
  return async (node, req) => {
    if (req.method !== "EXEC") throw new Error(`${stack} has no HTTP API: asked ${req.method} ${req.path} of ${node}`);
    const c = command(node, req.argv);
    const r = await c.node.exec(c.argv, { env: c.env, timeoutMs: req.timeoutMs });
    return { status: r.code, body: r.code === 0 ? r.stdout : `${r.stdout}${r.stderr}` };
  };
}
