import type { Logger } from "pino";
import type { Cluster } from "../platform/types.ts";
import type { Target } from "./targets.ts";

export interface FaultContext {
  cluster: Cluster;
  log: Logger;
  /** Ctrl-C: waits inside inject and heal stop at once. */
  signal?: AbortSignal;
  /** Writes an event of the nemesis into the run's history, for the checkers (a restore's result). */
  record?(f: "backup" | "disaster" | "restore", value: Record<string, unknown>): void;
}

/**
 * A fault is a value with inject and heal (DESIGN.md, idea 2). `inject` returns the nodes it hit;
 * `heal` is idempotent and safe to call at the end of the fault, in teardown and on Ctrl-C, whether or
 * not inject ran to completion.
 */
export interface Fault {
  readonly kind: string;
  readonly target: Target | "cluster";
  /** Resolves the target against the cluster now; the runner records the result before injecting. */
  resolve(ctx: FaultContext): Promise<string[]>;
  inject(ctx: FaultContext, nodes: string[]): Promise<Record<string, unknown> | void>;
  heal(ctx: FaultContext): Promise<void>;
}
