/**
 * CloudNativePG's operator on a cluster of ours, so that `--attach` meets the real operator and instance manager, not
 * a layout of them (`npm run kind:cluster -- up --operator cnpg`, and the kube tier of `.ci/run`). No container
 * registry answers here, so it is built from package registries only, as its own Makefile and Dockerfile would:
 *
 * - the operator's binary (`manager`, which is also the instance manager the operator copies into every PostgreSQL
 *   pod) from its module on the Go module proxy: `go build ./cmd/manager` in the module's own source, with its own
 *   go.mod and go.sum (a pseudo-versioned dependency, cnpg-i, is verified by that go.sum, not by the checksum database,
 *   which has no entry for it);
 * - its manifests from the module's `config/default` by `kubectl kustomize`, as its release manifest is made, with the
 *   image set to ours;
 * - the operator's image: Debian 12 (the member image's base) with the binary where the upstream image has it
 *   (`/bin/manager_<arch>`, found by the operator by that name, and `/manager`);
 * - the PostgreSQL image its Clusters run: the member image (PostgreSQL 15 on the PATH), tagged with the major version,
 *   which is what the operator reads from an image's tag. Its `postgres` user has uid 999: Clusters say so
 *   (`postgresUID`), where the upstream images use 26.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { execa } from "execa";
import { parseAllDocuments, stringify } from "yaml";
import type { KubernetesObject } from "@kubernetes/client-node";
import { DEBOOTSTRAP_BASE, DOCKER, dockerBuild, imageExists } from "../image.ts";
import { cacheRoot } from "../../stack/patroni/install.ts";
import { apiMessage, type KubeClients } from "./client.ts";
import { EnvironmentError } from "../../util/errors.ts";
import { waitFor } from "../../util/wait.ts";
import { onPath } from "./preflight.ts";

export const CNPG_VERSION = "1.24.1";
export const CNPG_MODULE = "github.com/cloudnative-pg/cloudnative-pg";
/** Where the operator runs (its kustomization's namespace). */
export const CNPG_NAMESPACE = "cnpg-system";
export const CNPG_DEPLOYMENT = "cnpg-controller-manager";
export const CNPG_OPERATOR_IMAGE = `pgchaos/cnpg-operator:${CNPG_VERSION}`;
/** The PostgreSQL image of the Clusters: its tag is the major version, which the operator reads. */
export const CNPG_POSTGRES_IMAGE = "pgchaos/cnpg-postgres:15";
/** The member image's `postgres` user (Debian's), which a Cluster must name (postgresUID, postgresGID). */
export const CNPG_POSTGRES_UID = 999;

/** The build's cache: the module's source (writable), the binary. */
export function cnpgCache(root = cacheRoot(), version = CNPG_VERSION): string {
  return join(root, "cnpg", version);
}

/** The module's own go.mod and go.sum, never rewritten (-mod=readonly); the binary's name says amd64, so the build is for it. */
const goEnv = () => ({ ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly -trimpath", GOTOOLCHAIN: "local", GOOS: "linux", GOARCH: "amd64" });

/**
 * The operator's source and binary, built once per version (about 3 minutes cold on 2 cores, most of it downloads).
 * Go must be there (cnpgBuildTools).
 */
export async function buildCnpgManager(say: (line: string) => void, signal?: AbortSignal, dir = cnpgCache()): Promise<{ src: string; manager: string }> {
  const src = join(dir, "src");
  const manager = join(dir, "bin", "manager_amd64");
  if (existsSync(manager) && existsSync(join(src, "config", "default", "kustomization.yaml"))) return { src, manager };
  say(`==> CloudNativePG ${CNPG_VERSION}: its module from the Go module proxy`);
  const scratch = mkdtempSync(join(tmpdir(), "pgchaos-cnpg-"));
  let downloaded: { Dir?: string; Error?: string };
  try {
    const r = await execa("go", ["mod", "download", "-json", `${CNPG_MODULE}@v${CNPG_VERSION}`], { cwd: scratch, env: goEnv(), reject: false, cancelSignal: signal });
    downloaded = JSON.parse(r.stdout || "{}") as { Dir?: string; Error?: string };
    if (r.exitCode !== 0 || !downloaded.Dir) throw new Error(`go mod download ${CNPG_MODULE}@v${CNPG_VERSION}: ${downloaded.Error ?? r.stderr.trim()}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  // The module cache is read-only; the build writes nothing into the source, but go wants to own it for go.sum updates.
  rmSync(src, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(downloaded.Dir, src, { recursive: true });
  await execa("chmod", ["-R", "u+w", src]);
  say(`==> CloudNativePG ${CNPG_VERSION}: go build ./cmd/manager (its own go.mod and go.sum)`);
  const partial = `${manager}.partial`;
  mkdirSync(join(dir, "bin"), { recursive: true });
  await execa("go", ["build", "-ldflags", "-s -w", "-o", partial, "./cmd/manager"], { cwd: src, env: goEnv(), cancelSignal: signal });
  chmodSync(partial, 0o755);
  cpSync(partial, manager);
  rmSync(partial, { force: true });
  return { src, manager };
}

/**
 * What building and installing the operator needs of this machine, checked before anything starts: Go on the PATH,
 * and kubectl (findKubectl), which it returns. Throws an EnvironmentError saying what to install.
 */
export function cnpgBuildTools(env: NodeJS.ProcessEnv = process.env, nodeBuildBin?: string): { kubectl: string } {
  if (!onPath("go", env.PATH)) throw new EnvironmentError("building CloudNativePG's operator needs Go (go on the PATH): install Go 1.24 or later");
  return { kubectl: findKubectl(env, nodeBuildBin) };
}

/** kubectl for `kubectl kustomize`: the PATH's, else the one `npm run kind:image` built beside the node image. */
export function findKubectl(env: NodeJS.ProcessEnv = process.env, nodeBuildBin?: string): string {
  for (const d of [...(env.PATH ?? "").split(delimiter), ...(nodeBuildBin ? [nodeBuildBin] : [])]) {
    if (d && onPath("kubectl", d)) return join(d, "kubectl");
  }
  throw new EnvironmentError("rendering CloudNativePG's manifests needs kubectl (its kustomize): install kubectl, or run `npm run kind:image`, which builds one");
}

/**
 * The operator's objects as its release manifest has them (`kubectl kustomize config/default`), with the operator's
 * image ours and never pulled.
 */
export async function cnpgManifests(src: string, kubectl: string, image = CNPG_OPERATOR_IMAGE): Promise<KubernetesObject[]> {
  const r = await execa(kubectl, ["kustomize", join(src, "config", "default")]);
  const objects = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o?.kind);
  return objects.map((o) => (o.kind === "Deployment" && o.metadata?.name === CNPG_DEPLOYMENT ? withImage(o, image) : o));
}

interface DeploymentLike extends KubernetesObject {
  spec: { template: { spec: { containers: Array<{ name: string; image?: string; imagePullPolicy?: string; env?: Array<{ name: string; value?: string }> }> } } };
}

function withImage(o: KubernetesObject, image: string): KubernetesObject {
  const d = structuredClone(o) as DeploymentLike;
  for (const c of d.spec.template.spec.containers) {
    c.image = image;
    c.imagePullPolicy = "IfNotPresent";
    // The operator puts its own image in every PostgreSQL pod (the bootstrap init container copies the instance manager from it).
    for (const e of c.env ?? []) if (e.name === "OPERATOR_IMAGE_NAME") e.value = image;
  }
  return d;
}

/** The operator's image and the Clusters' PostgreSQL image in the Docker engine at `host`, built or tagged once. */
export async function buildCnpgImages(host: string, manager: string, memberImage: string, say: (line: string) => void, signal?: AbortSignal): Promise<{ operator: string; postgres: string }> {
  if (!(await imageExists(host, CNPG_OPERATOR_IMAGE))) {
    if (!(await imageExists(host, DEBOOTSTRAP_BASE))) throw new EnvironmentError(`the operator's image is built on ${DEBOOTSTRAP_BASE}, which the member image's build makes: build that first`);
    say(`==> ${CNPG_OPERATOR_IMAGE}`);
    const ctx = mkdtempSync(join(tmpdir(), "pgchaos-cnpg-image-"));
    try {
      cpSync(manager, join(ctx, "manager_amd64"));
      // As the upstream image: the binary by its architecture's name, /manager linking to it, run as a user of no name.
      writeFileSync(join(ctx, "Dockerfile"), `FROM ${DEBOOTSTRAP_BASE}\nCOPY manager_amd64 /bin/manager_amd64\nRUN ln -s bin/manager_amd64 /manager\nWORKDIR /\nUSER 10001:10001\n`);
      await dockerBuild(host, CNPG_OPERATOR_IMAGE, ctx, [], signal);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  }
  await execa(DOCKER, ["-H", host, "tag", memberImage, CNPG_POSTGRES_IMAGE]);
  return { operator: CNPG_OPERATOR_IMAGE, postgres: CNPG_POSTGRES_IMAGE };
}

/**
 * Applies the operator's objects and waits until it runs and its admission webhooks answer (a server-side dry run of
 * a Cluster passes them): a Cluster created before would be refused. The objects go through `kubectl apply
 * --server-side` as they are: @kubernetes/client-node serializes a CustomResourceDefinition through its typed model,
 * which drops the schemas' `x-kubernetes-*` keys (the API server then refuses CloudNativePG's int-or-string fields).
 */
export async function installCnpgOperator(
  c: KubeClients,
  objects: readonly KubernetesObject[],
  kubectl: string,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pgchaos-cnpg-apply-"));
  try {
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, c.kc.exportConfig(), { mode: 0o600 });
    const r = await execa(kubectl, ["--kubeconfig", kubeconfig, "apply", "--server-side", "--force-conflicts", "--field-manager", "pgchaos", "-f", "-"], {
      input: objects.map((o) => stringify(o)).join("---\n"),
      reject: false,
      cancelSignal: opts.signal,
    });
    if (r.exitCode !== 0) throw new Error(`kubectl apply of CloudNativePG's operator failed: ${r.stderr.trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const timeoutMs = opts.timeoutMs ?? 300_000;
  await waitFor({ condition: `deployment ${CNPG_DEPLOYMENT} available`, where: `namespace ${CNPG_NAMESPACE}`, timeoutMs, intervalMs: 2000, signal: opts.signal }, async () => {
    const d = (await c.objects.read({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: CNPG_DEPLOYMENT, namespace: CNPG_NAMESPACE } })) as KubernetesObject & { status?: { availableReplicas?: number } };
    if ((d.status?.availableReplicas ?? 0) < 1) throw new Error("no replica available yet");
    return true;
  });
  const probe = cnpgClusterManifest({ name: "pgchaos-webhook-probe", namespace: CNPG_NAMESPACE, instances: 1 });
  await waitFor({ condition: "CloudNativePG's webhooks answering", where: `namespace ${CNPG_NAMESPACE}`, timeoutMs, intervalMs: 2000, signal: opts.signal }, async () => {
    try {
      await c.objects.create(probe, undefined, "All");
    } catch (e) {
      throw new Error(`a dry-run Cluster: ${apiMessage(e)}`);
    }
    return true;
  });
}

/**
 * A CloudNativePG Cluster of `instances` on the member image, as a user writes one (the operator fills in the rest):
 * the superuser's Secret is off, as by default, so runs write as the application user.
 */
export function cnpgClusterManifest(o: { name: string; namespace: string; instances?: number; image?: string; storage?: string }): KubernetesObject {
  return {
    apiVersion: "postgresql.cnpg.io/v1",
    kind: "Cluster",
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      instances: o.instances ?? 3,
      imageName: o.image ?? CNPG_POSTGRES_IMAGE,
      imagePullPolicy: "IfNotPresent",
      postgresUID: CNPG_POSTGRES_UID,
      postgresGID: CNPG_POSTGRES_UID,
      storage: { size: o.storage ?? "1Gi" },
    },
  } as KubernetesObject;
}
