/**
 * `--platform kube --context NAME`: the preflight of a cluster reached through a kubeconfig context (EKS, GKE,
 * AKS, k3s, OpenShift, or a kind or minikube cluster addressed like any other). Nothing is assumed of the
 * nodes; what is checked is what the run needs before it creates anything: the context exists in the
 * kubeconfig, its API server answers (within seconds: a closed port or an unroutable address must not leave the
 * user waiting for a deploy's timeout), and it takes the kubeconfig's credentials.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

/** How long the API server has to answer the preflight's GET /version. */
export const API_ANSWER_TIMEOUT_MS = 5000;

export interface ContextSource {
  context: string;
  /** A kubeconfig file; unset: the default one (KUBECONFIG, else ~/.kube/config). */
  kubeconfig?: string;
}

/** Where the kubeconfig was read from, for messages. */
export function kubeconfigSource(src: ContextSource, env: NodeJS.ProcessEnv = process.env): string {
  if (src.kubeconfig) return src.kubeconfig;
  if (env.KUBECONFIG) return `KUBECONFIG=${env.KUBECONFIG}`;
  return "~/.kube/config";
}

/**
 * The kubeconfig with `context` made current, or why not: the file cannot be read, the context is not in it (with
 * the contexts that are), or it names a cluster the file lacks.
 */
export async function loadContext(src: ContextSource): Promise<{ kc: KubeConfig; server: string } | { problem: string }> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  const where = kubeconfigSource(src);
  try {
    if (src.kubeconfig) kc.loadFromFile(src.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    return { problem: `the kubeconfig (${where}) cannot be read: ${(e as Error).message}` };
  }
  const ctx = kc.getContextObject(src.context);
  if (!ctx) {
    const names = kc.getContexts().map((c) => c.name);
    return {
      problem:
        `context "${src.context}" is not in the kubeconfig (${where}); ` +
        (names.length > 0 ? `its contexts are ${names.map((n) => `"${n}"`).join(", ")}` : "it has no contexts") +
        " (`kubectl config get-contexts` lists them)",
    };
  }
  kc.setCurrentContext(src.context);
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) return { problem: `context "${src.context}" names cluster "${ctx.cluster}", which the kubeconfig (${where}) does not define` };
  return { kc, server: cluster.server };
}

/** What a failed connection to the API server means, in words. */
export function describeConnectError(code: string | undefined, message: string): string {
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused (nothing listens there)";
    case "ETIMEDOUT":
      return `no answer within ${API_ANSWER_TIMEOUT_MS / 1000} s`;
    case "EHOSTUNREACH":
      return "no route to host";
    case "ENETUNREACH":
      return "network unreachable";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "its host name does not resolve";
    case "ECONNRESET":
      return "the connection was reset";
    default:
      if (code && /CERT|TLS|SELF_SIGNED|SIGNATURE/.test(code)) return `its TLS certificate fails the kubeconfig's check (${code}: ${message})`;
      return code ? `${code}: ${message}` : message;
  }
}

/** The problem with an API server's answer to GET /version (undefined: it answered and took the credentials). */
export function describeVersionAnswer(status: number, body: string): string | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 401) return "refuses the kubeconfig's credentials (HTTP 401): log in again or refresh the token";
  if (status === 403) return undefined; // Authenticated; what the user may do is checked by each call, with its message.
  return `answers GET /version with HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ""}`;
}

/**
 * GET /version on the context's API server, with the kubeconfig's TLS settings and credentials, within
 * `timeoutMs` (credential plugins included): undefined when it answered and took the credentials; otherwise
 * what is wrong, as the end of a sentence about the API server ("does not answer: ...", "refuses ...").
 */
export async function probeApiServer(kc: KubeConfig, server: string, timeoutMs = API_ANSWER_TIMEOUT_MS): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL("/version", server);
  } catch {
    return `cannot be addressed: "${server}" is not a URL`;
  }
  const opts: RequestOptions = { method: "GET", headers: {} };
  const deadline = <T>(p: Promise<T>, what: string) =>
    new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(Object.assign(new Error(what), { code: "ETIMEDOUT" })), timeoutMs);
      p.then(
        (v) => (clearTimeout(t), resolve(v)),
        (e: unknown) => (clearTimeout(t), reject(e)),
      );
    });
  try {
    // Runs the kubeconfig's credential plugin (aws, gke-gcloud-auth-plugin, kubelogin...) if it has one.
    await deadline(kc.applyToHTTPSOptions(opts), "the credential plugin did not answer");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ETIMEDOUT"
      ? `cannot be asked: the kubeconfig's credential plugin did not answer within ${timeoutMs / 1000} s`
      : `cannot be asked: the kubeconfig's credentials cannot be prepared: ${(e as Error).message}`;
  }
  return new Promise<string | undefined>((resolve) => {
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    const req = send(url, { ...opts, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve(describeVersionAnswer(res.statusCode ?? 0, body.trim())));
      res.on("error", (e) => resolve(`does not answer: ${describeConnectError(undefined, e.message)}`));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
    req.on("error", (e: NodeJS.ErrnoException) => resolve(`does not answer: ${describeConnectError(e.code, e.message)}`));
    req.end();
  });
}

/**
 * Every problem with reaching the cluster of `src.context`, each naming the context; empty when its API server
 * answered with the kubeconfig's credentials.
 */
export async function contextProblems(src: ContextSource, timeoutMs = API_ANSWER_TIMEOUT_MS): Promise<string[]> {
  const loaded = await loadContext(src);
  if ("problem" in loaded) return [loaded.problem];
  const why = await probeApiServer(loaded.kc, loaded.server, timeoutMs);
  return why ? [`the API server of context "${src.context}" (${loaded.server}) ${why}`] : [];
}
