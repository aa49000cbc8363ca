/**
 * The platform contract on `--platform kube`: a cluster reached by a kubeconfig context, with nothing assumed of its
 * nodes (the harness reaches PostgreSQL by port-forward through the API server). It runs only when asked,
 * PGCHAOS_PLATFORM=kube with PGCHAOS_KUBE_CONTEXT and PGCHAOS_KUBE_IMAGE (and KUBECONFIG) set, as `.ci/run`'s kube
 * tier does on a kind cluster it provisions (`npm run kind:cluster`). Otherwise it is skipped with the reason printed;
 * in CI with PGCHAOS_PLATFORM=kube, a context that cannot run it fails the suite instead.
 */
import { it } from "vitest";
import type { Cluster } from "../types.ts";
import { contextEnvOptions, contextPreflight, makeContextPlatform } from "../kube/kube.ts";
import { errorMessage } from "../../util/errors.ts";
import { platformContract } from "./contract.ts";

async function skipReason(): Promise<string | undefined> {
  if (process.env.PGCHAOS_PLATFORM !== "kube") {
    return `PGCHAOS_PLATFORM is ${process.env.PGCHAOS_PLATFORM ? `"${process.env.PGCHAOS_PLATFORM}"` : "not set"}; set PGCHAOS_PLATFORM=kube, PGCHAOS_KUBE_CONTEXT and PGCHAOS_KUBE_IMAGE to run it`;
  }
  return contextPreflight(contextEnvOptions()).then(
    () => undefined,
    (e: unknown) => errorMessage(e),
  );
}

const reason = await skipReason();
const mustRun = process.env.PGCHAOS_PLATFORM === "kube" && !!process.env.CI;

if (reason && mustRun) {
  it("runs the kube platform contract, as PGCHAOS_PLATFORM=kube asks in CI", () => {
    throw new Error(`PGCHAOS_PLATFORM=kube in CI, but ${reason}`);
  });
} else {
  platformContract("kube", () => makeContextPlatform(), {
    skipReason: reason,
    leftovers: (cluster: Cluster) => (cluster as unknown as { leftovers(): Promise<string[]> }).leftovers(),
    deployTimeoutMs: 300_000,
    stepTimeoutMs: 240_000,
  });
}
