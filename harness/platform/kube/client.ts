/**
 * The few Kubernetes operations the platforms need, on @kubernetes/client-node's object-parameter API:
 * server-side apply, exec with the exit status, and error classification. Every Kubernetes call of the
 * platforms goes through @kubernetes/client-node; only `kind`, `minikube` and `docker` are shelled out to.
 */
import { PassThrough } from "node:stream";
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  Exec,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
  type V1Status,
} from "@kubernetes/client-node";
import { execExitCode } from "./pod-ops.ts";
import { waitFor } from "../../util/wait.ts";

export const FIELD_MANAGER = "pgchaos";

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  /** Node Leases (kubelet heartbeats). */
  coordination: CoordinationV1Api;
  discovery: DiscoveryV1Api;
  objects: KubernetesObjectApi;
  exec: Exec;
}

/**
 * Clients for the kubeconfig text `kind get kubeconfig` prints, the default kubeconfig with a context, or a
 * kubeconfig already loaded (context.ts loadContext, `--platform kube`).
 */
export function makeClients(source: { kubeconfig: string } | { context: string } | { kubeConfig: KubeConfig }): KubeClients {
  let kc = new KubeConfig();
  if ("kubeConfig" in source) {
    kc = source.kubeConfig;
  } else if ("kubeconfig" in source) {
    kc.loadFromString(source.kubeconfig);
  } else {
    kc.loadFromDefault();
    kc.setCurrentContext(source.context);
  }
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    discovery: kc.makeApiClient(DiscoveryV1Api),
    objects: KubernetesObjectApi.makeApiClient(kc),
    exec: new Exec(kc),
  };
}

/** HTTP status of a failed call, when the API server answered. */
export function statusOf(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  const code = (e as { code?: unknown; statusCode?: unknown })?.code ?? (e as { statusCode?: unknown })?.statusCode;
  return typeof code === "number" ? code : undefined;
}

export function isNotFound(e: unknown): boolean {
  return statusOf(e) === 404;
}

/** The API server's own message in a failed call's body, or the error's. */
export function apiMessage(e: unknown): string {
  if (e instanceof ApiException) {
    const body = e.body as unknown;
    if (typeof body === "string") {
      try {
        return (JSON.parse(body) as { message?: string }).message ?? body;
      } catch {
        return body;
      }
    }
    return (body as { message?: string } | undefined)?.message ?? e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * The seconds a refused call asks to wait before the next (a 429's Retry-After header, or the Status body's
 * details.retryAfterSeconds); undefined when it asks nothing.
 */
export function retryAfterOf(e: unknown): number | undefined {
  const positive = (v: unknown) => {
    const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : typeof v === "number" ? v : NaN;
    return Number.isFinite(n) && n > 0 ? n : undefined;
  };
  const headers = (e as { headers?: Record<string, string> } | undefined)?.headers;
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === "retry-after" && positive(v) !== undefined) return positive(v);
  let body = (e as { body?: unknown } | undefined)?.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      return undefined;
    }
  }
  return positive((body as { details?: { retryAfterSeconds?: unknown } } | undefined)?.details?.retryAfterSeconds);
}

/** Server-side apply of one object (idempotent: a second apply of the same object changes nothing). */
export async function apply(c: KubeClients, obj: KubernetesObject): Promise<void> {
  try {
    await c.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  } catch (e) {
    throw new Error(`applying ${obj.kind} ${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""} failed: ${apiMessage(e)}`);
  }
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs `argv` in the pod's container through the exec API and collects its output and exit status. */
export function execInPod(c: KubeClients, target: { namespace: string; pod: string; container: string }, argv: string[], timeoutMs = 30_000): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = "";
    let stderr = "";
    out.on("data", (d: Buffer) => (stdout += d.toString()));
    err.on("data", (d: Buffer) => (stderr += d.toString()));
    let status: V1Status | undefined;
    let settled = false;
    const what = `exec ${argv.join(" ")} in ${target.namespace}/${target.pod}`;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    c.exec
      .exec(target.namespace, target.pod, target.container, argv, out, err, null, false, (s) => (status = s))
      .then((ws) => {
        const finish = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ stdout, stderr, exitCode: execExitCode(status) });
        };
        ws.on("close", finish);
        ws.on("error", (e: Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(new Error(`${what}: ${e.message}`));
        });
        if (ws.readyState === ws.CLOSED) finish();
        timer.unref?.();
      })
      .catch((e: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new Error(`${what}: ${apiMessage(e)}`));
      });
  });
}

/** Asks for a namespace's deletion (foreground, so its pods go first); a namespace already gone is fine. */
export async function requestNamespaceDeletion(c: KubeClients, name: string): Promise<void> {
  try {
    await c.core.deleteNamespace({ name, propagationPolicy: "Foreground" });
  } catch (e) {
    if (!isNotFound(e)) throw new Error(`deleting namespace ${name}: ${apiMessage(e)}`);
  }
}

/** Waits until the namespace no longer exists. */
export async function awaitNamespaceGone(c: KubeClients, name: string, where: string, timeoutMs = 180_000): Promise<void> {
  await waitFor({ condition: `namespace ${name} deleted`, where, timeoutMs, intervalMs: 1000 }, async () => {
    try {
      await c.core.readNamespace({ name });
      return false;
    } catch (e) {
      if (isNotFound(e)) return true;
      throw e;
    }
  });
}
