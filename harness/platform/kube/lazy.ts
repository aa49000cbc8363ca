/**
 * The Kubernetes platforms for the platform registry, loaded on first use: @kubernetes/client-node takes about
 * two seconds to import, which a run on the local platform should not pay.
 */
import type { Platform } from "../types.ts";
import { KUBE_CAPABILITIES, KUBE_WHY_NOT } from "./capabilities.ts";

function lazy(name: string, load: () => Promise<Platform>): Platform {
  let p: Promise<Platform> | undefined;
  const get = () => (p ??= load());
  return {
    name,
    capabilities: KUBE_CAPABILITIES,
    whyNot: KUBE_WHY_NOT,
    platformStack: async () => (await import("./stack.ts")).imageStack(),
    preflight: async () => (await get()).preflight(),
    deploy: async (spec) => (await get()).deploy(spec),
    cleanup: async (opts) => (await get()).cleanup(opts),
  };
}

export const kindPlatform: Platform = lazy("kind", async () => (await import("./kind.ts")).kindPlatform);
export const minikubePlatform: Platform = lazy("minikube", async () => (await import("./minikube.ts")).minikubePlatform);
