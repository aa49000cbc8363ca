/**
 * The platform contract on `--platform kube`: a cluster reached by a kubeconfig context, with nothing assumed of its
 * nodes (the harness reaches PostgreSQL by port-forward through the API server). It runs only when asked,
 * PGCHAOS_PLATFORM=kube with PGCHAOS_KUBE_CONTEXT and PGCHAOS_KUBE_IMAGE (and KUBECONFIG) set, as `.ci/run`'s kube
 * tier does on a kind cluster it provisions (`npm run kind:cluster`). Otherwise it is skipped with the reason printed;
 * in CI with PGCHAOS_PLATFORM=kube, a context that cannot run it fails the suite instead.
 */
import type { Cluster } from "../types.ts";
import { contextEnvOptions, contextPreflight, makeContextPlatform } from "../kube/kube.ts";
import { errorMessage } from "../../util/errors.ts";
import { askedPlatformContract } from "./contract.ts";

async function skipReason(): Promise<string | undefined> {
  if (process.env.PGCHAOS_PLATFORM !== "kube") {
    return `PGCHAOS_PLATFORM is ${process.env.PGCHAOS_PLATFORM ? `"${process.env.PGCHAOS_PLATFORM}"` : "not set"}; set PGCHAOS_PLATFORM=kube, PGCHAOS_KUBE_CONTEXT and PGCHAOS_KUBE_IMAGE to run it`;
  }
  return contextPreflight(contextEnvOptions()).then(
    () => undefined,
    (e: unknown) => errorMessage(e),
  );
}

askedPlatformContract("kube", await skipReason(), () => makeContextPlatform(), {
  leftovers: (cluster: Cluster) => (cluster as unknown as { leftovers(): Promise<string[]> }).leftovers(),
  deployTimeoutMs: 300_000,
  stepTimeoutMs: 240_000,
});
