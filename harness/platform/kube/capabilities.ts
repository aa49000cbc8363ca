import { ALL_PLATFORM_CAPABILITIES, type PlatformCapability } from "../../scenario/capabilities.ts";

/** Patroni on Kubernetes keeps its state in Kubernetes objects: there is no DCS member on a node to kill or pause. */
export const KUBE_CAPABILITIES: ReadonlySet<PlatformCapability> = new Set([...ALL_PLATFORM_CAPABILITIES].filter((c) => c !== "dcs-members"));

export const KUBE_WHY_NOT: Partial<Record<PlatformCapability, string>> = {
  "dcs-members": "Patroni there keeps its leader lock in Kubernetes objects (the API server is the DCS); cut a pod from the API server with the primary-dcs-isolate scenario instead",
};
