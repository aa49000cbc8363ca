/**
 * The Kubernetes platforms for the platform registry, loaded on first use: @kubernetes/client-node takes about
 * two seconds to import, which a run on the local platform should not pay.
 */
import type { Platform } from "../types.ts";
import { contextCapabilitiesFromEnv, KUBE_CAPABILITIES, KUBE_WHY_NOT } from "./capabilities.ts";
import type { PlatformCapability } from "../../scenario/capabilities.ts";

function lazy(
  name: string,
  load: () => Promise<Platform>,
  caps: { capabilities: () => ReadonlySet<PlatformCapability>; whyNot: () => Partial<Record<PlatformCapability, string>> } = { capabilities: () => KUBE_CAPABILITIES, whyNot: () => KUBE_WHY_NOT },
): Platform {
  let p: Promise<Platform> | undefined;
  const get = () => (p ??= load());
  return {
    name,
    stacksInImage: true,
    // Read at each look: the kube platform's depend on --allow-node-faults, which the CLI sets before the run.
    get capabilities() {
      return caps.capabilities();
    },
    get whyNot() {
      return caps.whyNot();
    },
    preflight: async () => (await get()).preflight(),
    deploy: async (spec) => (await get()).deploy(spec),
    cleanup: async (opts) => (await get()).cleanup(opts),
  };
}

export const kindPlatform: Platform = lazy("kind", async () => (await import("./kind.ts")).kindPlatform);
export const minikubePlatform: Platform = lazy("minikube", async () => (await import("./minikube.ts")).minikubePlatform);
/** `--platform kube --context NAME`: any cluster a kubeconfig context reaches (kube.ts). */
export const kubePlatform: Platform = lazy("kube", async () => (await import("./kube.ts")).contextPlatform, {
  capabilities: () => contextCapabilitiesFromEnv().capabilities,
  whyNot: () => contextCapabilitiesFromEnv().whyNot,
});
