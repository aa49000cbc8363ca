/**
 * `npm run kind:cluster -- up [--stack NAME]` and `npm run kind:cluster -- down`: kind as a provisioner for
 * `--platform kube`, which runs on any cluster a kubeconfig context reaches and assumes nothing of its nodes.
 *
 * `up` creates the kind cluster `pgchaos-kube` from kind-config.yaml (with this checkout's node image where
 * `npm run kind:image` built one, else kind's kindest/node), builds the member image of the stack and loads it into the
 * nodes, writes the cluster's kubeconfig, and prints the environment a run needs. The Docker daemon it started (where
 * none ran) keeps running for the cluster. `down` deletes the cluster and its kubeconfig, and stops that daemon when no
 * other run uses it. Exit 0 done, 1 failed, 2 on bad arguments or a machine that cannot run kind.
 *
 * `up --operator cnpg` also installs CloudNativePG's operator, built from the Go module proxy (cnpg-operator.ts), so
 * that `--attach` can be tried on a CloudNativePG Cluster: it prints one to apply.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import pino from "pino";
import { ensureDaemon, keepDaemon } from "../harness/platform/docker/daemon.ts";
import { kindNodeSetup } from "../harness/platform/kube/kind-node.ts";
import { kindRuntime } from "../harness/platform/kube/kind.ts";
import { kubeProblems, machineFacts } from "../harness/platform/kube/preflight.ts";
import { patroniOnly } from "../harness/stack/patroni/stack.ts";
import { describeStack } from "../harness/stack/index.ts";
import { kindNodeBuildDir, kindNodeTag } from "../harness/platform/kube/kind-node.ts";
import { buildCnpgImages, buildCnpgManager, cnpgBuildTools, cnpgClusterManifest, cnpgManifests, CNPG_VERSION, installCnpgOperator } from "../harness/platform/kube/cnpg-operator.ts";
import { stringify } from "yaml";
import { EnvironmentError, UsageError, errorMessage } from "../harness/util/errors.ts";

const USAGE = "usage: npm run kind:cluster -- up [--stack patroni@VERSION] [--operator cnpg] | down";
const KUBE_KIND_CLUSTER = "pgchaos-kube";

/** Where `up` writes the cluster's kubeconfig: beside the other caches of pgchaos. */
function kubeconfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.PGCHAOS_CACHE ?? "/var/cache/pgchaos", `kind-${KUBE_KIND_CLUSTER}.kubeconfig`);
}

async function main(argv: string[]): Promise<number> {
  let action: string | undefined;
  let stackName = "patroni";
  let operator: "cnpg" | undefined;
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { stack: { type: "string" }, operator: { type: "string" }, help: { type: "boolean", short: "h" } }, allowPositionals: true });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    action = positionals[0];
    if (positionals.length !== 1 || (action !== "up" && action !== "down")) throw new UsageError(`say up or down${positionals.length > 0 ? `, not ${positionals.join(" ")}` : ""}`);
    if (values.stack) {
      if (action === "down") throw new UsageError("--stack goes with up");
      stackName = values.stack;
    }
    if (values.operator !== undefined) {
      if (action === "down") throw new UsageError("--operator goes with up (down deletes the cluster, the operator with it)");
      if (values.operator !== "cnpg") throw new UsageError(`--operator takes cnpg (CloudNativePG ${CNPG_VERSION}, built from the Go module proxy), not "${values.operator}"`);
      operator = "cnpg";
    }
  } catch (e) {
    console.error(`kind:cluster: ${errorMessage(e)}\n${USAGE}`);
    return 2;
  }
  // The stack first: nothing is started for a name that cannot run on kind.
  let stack;
  if (action === "up") {
    try {
      stack = patroniOnly(describeStack(stackName, "kind"), "kind")!;
    } catch (e) {
      console.error(`kind:cluster: ${errorMessage(e)}`);
      return 2;
    }
  }
  const problems = kubeProblems("kind", await machineFacts("kind"));
  if (problems.length > 0) {
    console.error(`kind:cluster: this machine cannot run kind:\n  - ${problems.join("\n  - ")}`);
    return 2;
  }
  // What the operator's build needs, before anything is started.
  let kubectl: string | undefined;
  if (operator === "cnpg") {
    try {
      kubectl = cnpgBuildTools(process.env, join(kindNodeBuildDir(kindNodeTag()), "bin")).kubectl;
    } catch (e) {
      console.error(`kind:cluster: ${errorMessage(e)}`);
      return 2;
    }
  }
  const log = pino({ level: "info" }, pino.destination(2));
  let daemon: Awaited<ReturnType<typeof ensureDaemon>>;
  try {
    daemon = await ensureDaemon();
  } catch (e) {
    console.error(`kind:cluster: ${errorMessage(e)}`);
    return e instanceof EnvironmentError ? 2 : 1;
  }
  process.env.DOCKER_HOST ??= daemon.host;
  const runtime = kindRuntime({ clusterName: KUBE_KIND_CLUSTER, reuse: true, members: 3, setup: await kindNodeSetup(daemon.host) });
  if (action === "down") {
    try {
      const existed = await runtime.clusterExists();
      if (existed) await runtime.deleteCluster(log);
      rmSync(kubeconfigPath(), { force: true });
      console.error(existed ? `kind cluster ${KUBE_KIND_CLUSTER} deleted` : `no kind cluster ${KUBE_KIND_CLUSTER} to delete`);
      return 0;
    } catch (e) {
      console.error(`kind:cluster: ${errorMessage(e)}`);
      return 1;
    } finally {
      // The cluster no longer holds the daemon: the last user stops it.
      keepDaemon(daemon, KUBE_KIND_CLUSTER, false);
      await daemon.stop();
    }
  }
  let created = false;
  try {
    const ensured = await runtime.ensureCluster(log);
    created = ensured.created;
    const image = await runtime.buildImage!(stack!, log);
    await runtime.loadImage(image, log);
    const kubeconfig = kubeconfigPath();
    mkdirSync(join(kubeconfig, ".."), { recursive: true });
    writeFileSync(kubeconfig, ensured.clients.kc.exportConfig(), { mode: 0o600 });
    // The cluster runs on the daemon: it holds a lease of its own until `down`, so that no other run stops the daemon under it.
    keepDaemon(daemon, KUBE_KIND_CLUSTER, true);
    if (operator === "cnpg") {
      const say = (line: string) => console.error(line);
      const { src, manager } = await buildCnpgManager(say);
      const images = await buildCnpgImages(daemon.host, manager, image, say);
      for (const i of [images.operator, images.postgres]) await runtime.loadImage(i, log);
      say(`==> CloudNativePG ${CNPG_VERSION}'s operator, from its config/default`);
      await installCnpgOperator(ensured.clients, await cnpgManifests(src, kubectl!, images.operator), kubectl!);
      const example = stringify(cnpgClusterManifest({ name: "pg", namespace: "default" }));
      // For the kube tier's --attach e2e: the operator is there.
      console.log(`PGCHAOS_KUBE_CNPG=${CNPG_VERSION}`);
      console.error(`\nCloudNativePG ${CNPG_VERSION} runs in namespace cnpg-system. A Cluster to attach to (kubectl apply -f -):\n${example}`);
      console.error(`then: KUBECONFIG=${kubeconfig} npm run scenario -- primary-kill --attach pg --context kind-${KUBE_KIND_CLUSTER} --namespace default\n`);
    }
    console.log(`KUBECONFIG=${kubeconfig}`);
    console.log(`PGCHAOS_KUBE_IMAGE=${image}`);
    console.error(`\nrun a scenario on it:\n  KUBECONFIG=${kubeconfig} PGCHAOS_KUBE_IMAGE=${image} npm run scenario -- primary-kill --platform kube --context kind-${KUBE_KIND_CLUSTER}\nand delete it with: npm run kind:cluster -- down`);
    return 0;
  } catch (e) {
    console.error(`kind:cluster: ${errorMessage(e)}`);
    // A cluster this command made and could not finish is not left behind.
    if (created) {
      await runtime.deleteCluster(log).then(
        // No cluster holds the daemon any more: the last user stops it.
        () => keepDaemon(daemon, KUBE_KIND_CLUSTER, false),
        (de: unknown) => console.error(`kind:cluster: could not delete the half-made cluster (${errorMessage(de)}): npm run kind:cluster -- down`),
      );
    }
    return 1;
  } finally {
    await daemon.stop();
  }
}

process.exit(await main(process.argv.slice(2)));
