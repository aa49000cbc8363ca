/**
 * Makes Patroni stacks runnable ahead of a run: `node --import tsx scripts/fetch-stacks.ts [stack ...]`, every
 * known stack when none is named (harness/stack/patroni/versions.ts). Downloads from Debian's archive what is
 * not in the cache yet ($PGCHAOS_CACHE, default /var/cache/pgchaos), checks the pinned SHA-256, and checks each
 * launcher prints its version. Idempotent. Exit 0 when every stack is ready, 1 when one failed, 2 on a usage or
 * environment error.
 */
import { ensurePatroni } from "../harness/stack/patroni/install.ts";
import { listStacks, parseStack, type PatroniVersion } from "../harness/stack/patroni/versions.ts";
import { EnvironmentError, UsageError, errorMessage } from "../harness/util/errors.ts";

async function main(argv: string[]): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    console.log(`usage: node --import tsx scripts/fetch-stacks.ts [stack ...]\nstacks: ${listStacks().map((s) => s.name).join(", ")} (default: all)`);
    return 0;
  }
  let stacks: PatroniVersion[];
  try {
    stacks = argv.length ? argv.map(parseStack) : listStacks();
  } catch (e) {
    console.error(`fetch-stacks: ${errorMessage(e)}`);
    return 2;
  }
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort(new Error("interrupted by SIGINT")));
  let status = 0;
  for (const stack of stacks) {
    const t0 = performance.now();
    try {
      const p = await ensurePatroni(stack, { log: (line) => console.log(`  ${line}`), signal: controller.signal });
      console.log(`fetch-stacks: ${stack.name} ready: ${p.bin} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      if (controller.signal.aborted) {
        console.error("fetch-stacks: interrupted");
        return 130;
      }
      console.error(`fetch-stacks: ${stack.name} failed: ${errorMessage(e)}`);
      status = Math.max(status, e instanceof EnvironmentError || e instanceof UsageError ? 2 : 1);
    }
  }
  return status;
}

process.exitCode = await main(process.argv.slice(2));
