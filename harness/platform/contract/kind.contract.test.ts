/**
 * The platform contract on kind. It creates a kind cluster from kind-config.yaml (or runs in an existing one
 * with PGCHAOS_KUBE_REUSE=1, as in a CI job whose kind action made the cluster), so it runs only when asked:
 * PGCHAOS_PLATFORM=kind, with docker, a Docker engine, kind, nsenter and root. Otherwise it is skipped with the
 * reason printed. In CI (CI set) with PGCHAOS_PLATFORM=kind, a machine that cannot run it fails the suite
 * instead: a job that asked for kind must not pass without running it.
 */
import type { Cluster } from "../types.ts";
import { makeKindPlatform } from "../kube/kind.ts";
import { kubeProblems, machineFacts } from "../kube/preflight.ts";
import { askedPlatformContract } from "./contract.ts";

async function skipReason(): Promise<string | undefined> {
  if (process.env.PGCHAOS_PLATFORM !== "kind") {
    return `PGCHAOS_PLATFORM is ${process.env.PGCHAOS_PLATFORM ? `"${process.env.PGCHAOS_PLATFORM}"` : "not set"}; set PGCHAOS_PLATFORM=kind to run it (it needs docker, a running Docker engine, kind, nsenter and root)`;
  }
  const problems = kubeProblems("kind", await machineFacts("kind"));
  return problems.length > 0 ? `this machine cannot run kind: ${problems.join("; ")}` : undefined;
}

askedPlatformContract("kind", await skipReason(), () => makeKindPlatform(), {
  leftovers: (cluster: Cluster) => (cluster as unknown as { leftovers(): Promise<string[]> }).leftovers(),
  deployTimeoutMs: 900_000,
  stepTimeoutMs: 300_000,
});
