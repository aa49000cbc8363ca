/**
 * `npm run image -- [--stack NAME] [--push REPOSITORY]`: builds the member image every container platform runs
 * (harness/platform/image.ts, fixtures/image/) for a stack, and prints its reference. With --push, tags it under
 * REPOSITORY (the tag stays ours: it names the Patroni and hashes every input) and pushes it there, for a
 * Kubernetes cluster reached by context to pull (PGCHAOS_KUBE_IMAGE). Exit 0 built, 1 failed, 2 on bad input or a
 * machine that cannot build, 130 on Ctrl-C. The docker and kind platforms build it themselves when missing.
 */
import { parseArgs } from "node:util";
import { execa } from "execa";
import { ensureDaemon } from "../harness/platform/docker/daemon.ts";
import { DOCKER, ensureImage } from "../harness/platform/image.ts";
import { checkStackName, describeStack } from "../harness/stack/index.ts";
import { EnvironmentError, UsageError, errorMessage } from "../harness/util/errors.ts";
import { abortOnSignals } from "../harness/util/signals.ts";

const USAGE = "usage: npm run image -- [--stack patroni@3.0.2|patroni@4.0.7|patroni@4.1.5] [--push REPOSITORY]";

/** A repository to push to: `registry.example.com/team/pgchaos-member`, no tag or digest (the tag is the image's). */
export function checkRepository(repo: string): string {
  if (!/^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/.test(repo)) {
    throw new UsageError(`--push "${repo}" is not a repository name like registry.example.com/team/pgchaos-member (lower case, with its registry, no tag: the tag is the image's own)`);
  }
  return repo;
}

async function main(argv: string[]): Promise<number> {
  let values: { stack?: string; push?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { stack: { type: "string" }, push: { type: "string" }, help: { type: "boolean", short: "h" } }, allowPositionals: false }));
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.stack !== undefined) checkStackName(values.stack);
    if (values.push !== undefined) checkRepository(values.push);
  } catch (e) {
    console.error(`image: ${errorMessage(e)}\n${USAGE}`);
    return 2;
  }
  const signal = abortOnSignals();
  const daemon = await ensureDaemon(signal).catch((e: unknown) => {
    console.error(`image: ${errorMessage(e)}`);
    return undefined;
  });
  if (!daemon) return 2;
  try {
    const stack = describeStack(values.stack);
    const tag = await ensureImage(daemon.host, (line) => console.error(line), signal, stack);
    if (values.push === undefined) {
      console.log(tag);
      return 0;
    }
    const remote = `${values.push}:${tag.slice(tag.lastIndexOf(":") + 1)}`;
    await execa(DOCKER, ["-H", daemon.host, "tag", tag, remote]);
    console.error(`pushing ${remote}`);
    await execa(DOCKER, ["-H", daemon.host, "push", remote], { cancelSignal: signal, stdio: ["ignore", "inherit", "inherit"] });
    console.log(remote);
    return 0;
  } catch (e) {
    if (signal.aborted) return 130;
    console.error(`image: ${errorMessage(e)}`);
    return e instanceof EnvironmentError || e instanceof UsageError ? 2 : 1;
  } finally {
    await daemon.stop().catch(() => undefined);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
