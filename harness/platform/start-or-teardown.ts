import type { Logger } from "pino";
import { errorMessage } from "../util/errors.ts";

/**
 * Runs a freshly made cluster's start; if it fails, keeps its logs for the report, removes whatever it had
 * created, and rethrows. Every platform's deploy ends this way.
 */
export async function startOrTearDown<C extends { collectLogs(): Promise<void>; teardown(): Promise<unknown> }>(cluster: C, log: Logger, start: () => Promise<void>): Promise<C> {
  try {
    await start();
    return cluster;
  } catch (e) {
    log.error({ err: errorMessage(e) }, "deploy failed; tearing down");
    await cluster.collectLogs().catch(() => undefined);
    await cluster.teardown().catch((te) => log.error({ err: errorMessage(te) }, "teardown after failed deploy"));
    throw e;
  }
}
