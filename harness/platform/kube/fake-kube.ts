/**
 * Test support: an in-memory Kubernetes behind the KubeClients the platforms use (client-go's object tracker and
 * xk6-disruptor's pkg/kubernetes/fake.go are the model), with the controllers a deploy leans on, so that the kube
 * cluster's own logic (what it creates, in which order, what it waits for, what it leaves behind) runs in a unit test.
 *
 * - The API server: objects by kind, namespace and name; server-side apply creates or replaces; label selectors;
 *   404 and 409 as the API answers them; a namespaced object is refused in a namespace that does not exist or is
 *   terminating; every object written must validate against the Kubernetes OpenAPI schemas (openapi-validate.ts),
 *   else the write is refused (422) as the API server would.
 * - The namespace controller: a deleted namespace is Terminating, its objects go, then it goes.
 * - The StatefulSet controller: a claim per pod from the claim templates (owned by the StatefulSet where its
 *   retention policy deletes them with it) and pods <name>-<ordinal> from the template (refused, with a FailedCreate
 *   event, while the ServiceAccount they name does not exist); what a deleted StatefulSet owns goes with it.
 * - The scheduler: pods without scheduling gates onto Ready, schedulable nodes that match their required node
 *   affinity, one pod of a selector per hostname for a required anti-affinity; untolerated NoSchedule taints count.
 * - The kubelet: a scheduled pod runs, unless a ConfigMap it mounts is missing (FailedMount), its image cannot be
 *   pulled (ErrImagePull, then ImagePullBackOff) or a Secret its environment names is missing
 *   (CreateContainerConfigError); an exec into a running container runs the test's handler.
 *
 * Server-side apply is the only patch of objects it takes: another patch type of an object that does not exist is a
 * 404, as the API server answers a merge patch. A test adds controllers of its own (`controllers`: what Patroni writes,
 * say) through `write`.
 *
 * Controllers take one step at each API call, as real ones run between a client's calls. Only what the platform
 * calls is here; anything else throws, naming the call, so a test never passes on a call the fake does not know.
 */
import { ApiException, PatchStrategy, type KubernetesObject, type V1Pod } from "@kubernetes/client-node";
import type { KubeClients } from "./client.ts";
import { matchesSelector } from "./attach.ts";
import { validateObject } from "./openapi-validate.ts";

type Obj = KubernetesObject & { spec?: any; status?: any; data?: any; stringData?: any; [k: string]: unknown };

export interface FakeNode {
  name: string;
  labels?: Record<string, string>;
  taints?: Array<{ key: string; effect: string; value?: string }>;
  ready?: boolean;
}

export interface ExecHandler {
  (pod: V1Pod, container: string, argv: string[]): { stdout?: string; stderr?: string; exitCode?: number };
}

export interface FakeKubeOptions {
  nodes?: FakeNode[];
  /** Images the nodes can pull (or have); any other fails with ErrImagePull. Unset: every image. */
  pullable?: (image: string) => boolean;
  /** What an exec into a running container answers; unset: exit 0, no output. */
  exec?: ExecHandler;
  /** Controllers of the test's own, run after the fake's at each step. */
  controllers?: Array<(fake: FakeKube) => void>;
}

/** kind's layout: a tainted control plane and three workers. */
export const KIND_LIKE_NODES: FakeNode[] = [
  { name: "cp", labels: { "node-role.kubernetes.io/control-plane": "" }, taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] },
  { name: "w1" },
  { name: "w2" },
  { name: "w3" },
];

function apiError(code: number, reason: string, message: string): ApiException<string> {
  return new ApiException(code, `HTTP-Code: ${code} Message: ${message}`, JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code }), {});
}

const CLUSTER_SCOPED = new Set(["Namespace", "Node"]);

function matchLabels(labels: Record<string, string> | undefined, want: Record<string, string> | undefined): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => labels?.[k] === v);
}

export class FakeKube {
  /** Every write the API server accepted, in order: `create Namespace/x`, `apply StatefulSet ns/pg`, `delete ...`. */
  readonly writes: string[] = [];
  private readonly objects = new Map<string, Obj>();
  private readonly events: Array<{ namespace: string; reason: string; message: string; object: string }> = [];
  private readonly nodes: FakeNode[];
  private readonly opts: FakeKubeOptions;
  private uid = 0;
  private nextIp = 10;
  private nodePort = 30000;
  readonly clients: KubeClients;

  constructor(opts: FakeKubeOptions = {}) {
    this.opts = opts;
    this.nodes = opts.nodes ?? KIND_LIKE_NODES;
    this.clients = this.makeClients();
  }

  // --- the store -------------------------------------------------------------------------------------------------

  private key(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}/${CLUSTER_SCOPED.has(kind) ? "" : (namespace ?? "")}/${name}`;
  }

  private get(kind: string, namespace: string | undefined, name: string): Obj | undefined {
    return this.objects.get(this.key(kind, namespace, name));
  }

  private must(kind: string, namespace: string | undefined, name: string): Obj {
    const o = this.get(kind, namespace, name);
    if (!o) throw apiError(404, "NotFound", `${kind.toLowerCase()}s "${name}" not found`);
    return o;
  }

  /** Objects of `kind` (in `namespace` unless undefined), matching `labelSelector`. */
  list(kind: string, namespace?: string, labelSelector?: string): Obj[] {
    return [...this.objects.values()].filter(
      (o) => o.kind === kind && (namespace === undefined || o.metadata?.namespace === namespace) && matchesSelector(labelSelector ?? "", o.metadata?.labels),
    );
  }

  /** Every object left, as `Kind ns/name` (namespaces as `Namespace name`), nodes excluded. */
  inventory(): string[] {
    return [...this.objects.values()].map((o) => (o.kind === "Namespace" ? `Namespace ${o.metadata?.name}` : `${o.kind} ${o.metadata?.namespace}/${o.metadata?.name}`)).sort();
  }

  /** Events recorded in `namespace`, as `reason: message`. */
  eventsIn(namespace: string): string[] {
    return this.events.filter((e) => e.namespace === namespace).map((e) => `${e.reason} ${e.object}: ${e.message}`);
  }

  /** An object written by someone else than the client (a controller of the test's): created or replaced. */
  write(o: Obj): Obj {
    return structuredClone(this.store(o, "apply", "write"));
  }

  private store(o: Obj, verb: "create" | "apply", as: string = verb): Obj {
    const kind = o.kind!;
    const ns = o.metadata?.namespace;
    const name = o.metadata?.name ?? "";
    if (!CLUSTER_SCOPED.has(kind)) {
      const nsObj = this.get("Namespace", undefined, ns ?? "");
      if (!nsObj) throw apiError(404, "NotFound", `namespaces "${ns}" not found`);
      if (nsObj.metadata?.deletionTimestamp) {
        throw apiError(403, "Forbidden", `${kind.toLowerCase()}s "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`);
      }
    }
    try {
      validateObject(o);
    } catch (e) {
      throw apiError(422, "Invalid", `${kind} "${name}" is invalid: ${(e as Error).message}`);
    }
    const existing = this.get(kind, ns, name);
    if (existing && verb === "create") throw apiError(409, "AlreadyExists", `${kind.toLowerCase()}s "${name}" already exists`);
    const stored: Obj = structuredClone(o);
    stored.metadata = { ...stored.metadata, uid: existing?.metadata?.uid ?? `uid-${++this.uid}`, creationTimestamp: existing?.metadata?.creationTimestamp ?? new Date() };
    if (kind === "Service") this.allocateService(stored, existing);
    if (kind === "Namespace") stored.status = { phase: "Active" };
    if (existing?.status && kind !== "Namespace") stored.status = existing.status;
    this.objects.set(this.key(kind, ns, name), stored);
    this.writes.push(`${as} ${kind} ${CLUSTER_SCOPED.has(kind) ? name : `${ns}/${name}`}`);
    return stored;
  }

  private allocateService(svc: Obj, existing: Obj | undefined): void {
    svc.spec = { ...svc.spec, clusterIP: existing?.spec?.clusterIP ?? `10.96.0.${++this.nextIp}` };
    if (svc.spec.type === "NodePort") {
      const before = new Map<string, number>((existing?.spec?.ports ?? []).map((p: { name?: string; nodePort?: number }) => [p.name ?? "", p.nodePort ?? 0]));
      svc.spec.ports = (svc.spec.ports ?? []).map((p: { name?: string; nodePort?: number }) => ({ ...p, nodePort: p.nodePort ?? before.get(p.name ?? "") ?? ++this.nodePort }));
    }
  }

  private remove(o: Obj, why = "delete"): void {
    this.objects.delete(this.key(o.kind!, o.metadata?.namespace, o.metadata?.name ?? ""));
    this.writes.push(`${why} ${o.kind} ${CLUSTER_SCOPED.has(o.kind!) ? o.metadata?.name : `${o.metadata?.namespace}/${o.metadata?.name}`}`);
  }

  private event(namespace: string, object: string, reason: string, message: string): void {
    if (!this.events.some((e) => e.namespace === namespace && e.object === object && e.reason === reason && e.message === message)) this.events.push({ namespace, object, reason, message });
  }

  // --- the controllers -------------------------------------------------------------------------------------------

  /** One step of every controller. */
  step(): void {
    this.namespaceController();
    this.statefulSetController();
    this.scheduler();
    this.kubelet();
    for (const c of this.opts.controllers ?? []) c(this);
  }

  private namespaceController(): void {
    for (const ns of this.list("Namespace").filter((n) => n.metadata?.deletionTimestamp)) {
      const name = ns.metadata!.name!;
      const content = [...this.objects.values()].filter((o) => o.metadata?.namespace === name && !CLUSTER_SCOPED.has(o.kind!));
      // The content goes first (one step), the namespace at a later step.
      if (content.length > 0) for (const o of content) this.remove(o, "gc");
      else this.remove(ns, "gc");
    }
  }

  private statefulSetController(): void {
    for (const sts of this.list("StatefulSet")) {
      const ns = sts.metadata!.namespace!;
      if (this.get("Namespace", undefined, ns)?.metadata?.deletionTimestamp) continue;
      const tpl = sts.spec.template;
      const owner = { apiVersion: "apps/v1", kind: "StatefulSet", name: sts.metadata!.name!, uid: sts.metadata!.uid! };
      for (let i = 0; i < (sts.spec.replicas ?? 1); i++) {
        const name = `${sts.metadata!.name}-${i}`;
        for (const t of sts.spec.volumeClaimTemplates ?? []) {
          const claim = `${t.metadata.name}-${name}`;
          if (this.get("PersistentVolumeClaim", ns, claim)) continue;
          const owned = sts.spec.persistentVolumeClaimRetentionPolicy?.whenDeleted === "Delete";
          this.store(
            { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: claim, namespace: ns, labels: { ...(t.metadata.labels ?? {}) }, ...(owned ? { ownerReferences: [owner] } : {}) }, spec: structuredClone(t.spec) },
            "create",
          );
        }
        if (this.get("Pod", ns, name)) continue;
        const sa = tpl.spec?.serviceAccountName ?? "default";
        if (sa !== "default" && !this.get("ServiceAccount", ns, sa)) {
          this.event(ns, `StatefulSet/${sts.metadata!.name}`, "FailedCreate", `create Pod ${name} in StatefulSet ${sts.metadata!.name} failed error=pods "${name}" is forbidden: error looking up service account ${ns}/${sa}: serviceaccount "${sa}" not found`);
          break; // OrderedReady: the next ordinal waits for this one.
        }
        const pod: Obj = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            ...structuredClone(tpl.metadata ?? {}),
            name,
            namespace: ns,
            labels: { ...(tpl.metadata?.labels ?? {}), "statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": String(i) },
            ownerReferences: [{ ...owner, controller: true }],
          },
          spec: { ...structuredClone(tpl.spec), hostname: name, subdomain: sts.spec.serviceName },
          status: { phase: "Pending" },
        };
        this.store(pod, "create");
      }
    }
  }

  private fits(pod: Obj, node: FakeNode): boolean {
    if (node.ready === false) return false;
    const tolerations: Array<{ key?: string; operator?: string; effect?: string }> = pod.spec?.tolerations ?? [];
    for (const t of node.taints ?? []) {
      if (t.effect !== "NoSchedule" && t.effect !== "NoExecute") continue;
      if (!tolerations.some((x) => (x.operator === "Exists" && !x.key) || (x.key === t.key && (!x.effect || x.effect === t.effect)))) return false;
    }
    const labels = { "kubernetes.io/hostname": node.name, ...(node.labels ?? {}) };
    const terms: Array<{ matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }> =
      pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
    const exprOk = (e: { key: string; operator: string; values?: string[] }) =>
      e.operator === "DoesNotExist" ? !(e.key in labels) : e.operator === "Exists" ? e.key in labels : e.operator === "In" ? (e.values ?? []).includes(labels[e.key as keyof typeof labels] ?? "") : e.operator === "NotIn" ? !(e.values ?? []).includes(labels[e.key as keyof typeof labels] ?? "") : false;
    if (terms.length > 0 && !terms.some((t) => (t.matchExpressions ?? []).every(exprOk))) return false;
    for (const a of pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
      if (a.topologyKey !== "kubernetes.io/hostname") continue;
      const taken = this.list("Pod", pod.metadata!.namespace).some((p) => p !== pod && p.spec?.nodeName === node.name && matchLabels(p.metadata?.labels, a.labelSelector?.matchLabels));
      if (taken) return false;
    }
    return true;
  }

  private scheduler(): void {
    for (const pod of this.list("Pod").filter((p) => !p.spec?.nodeName && (p.spec?.schedulingGates ?? []).length === 0 && !p.metadata?.deletionTimestamp)) {
      const node = this.nodes.find((n) => this.fits(pod, n));
      if (!node) {
        pod.status = { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: `0/${this.nodes.length} nodes are available` }] };
        continue;
      }
      pod.spec.nodeName = node.name;
      this.writes.push(`schedule Pod ${pod.metadata!.namespace}/${pod.metadata!.name} on ${node.name}`);
      pod.status = { phase: "Pending", conditions: [{ type: "PodScheduled", status: "True" }] };
    }
  }

  private kubelet(): void {
    for (const pod of this.list("Pod").filter((p) => p.spec?.nodeName && p.status?.phase === "Pending")) {
      const ns = pod.metadata!.namespace!;
      // A ConfigMap volume that does not exist: the kubelet cannot mount it, and no container is created.
      const unmounted = ((pod.spec.volumes ?? []) as Array<{ name: string; configMap?: { name: string; optional?: boolean } }>).find((v) => v.configMap && !v.configMap.optional && !this.get("ConfigMap", ns, v.configMap.name));
      if (unmounted) {
        this.event(ns, `Pod/${pod.metadata!.name}`, "FailedMount", `MountVolume.SetUp failed for volume "${unmounted.name}" : configmap "${unmounted.configMap!.name}" not found`);
        pod.status = { ...pod.status, containerStatuses: (pod.spec.containers ?? []).map((c: { name: string; image: string }) => ({ name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ContainerCreating" } } })) };
        continue;
      }
      const containers: Array<{ name: string; image: string; env?: Array<{ valueFrom?: { secretKeyRef?: { name: string } } }> }> = pod.spec.containers ?? [];
      const statuses = containers.map((c) => {
        const missing = (c.env ?? []).map((e) => e.valueFrom?.secretKeyRef?.name).find((s) => s !== undefined && !this.get("Secret", ns, s));
        if (missing) return { name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "CreateContainerConfigError", message: `secret "${missing}" not found` } } };
        if (this.opts.pullable && !this.opts.pullable(c.image)) {
          // A failed pull, then the kubelet's back-off between the next attempts.
          const before = (pod.status?.containerStatuses ?? []).find((x: { name: string }) => x.name === c.name)?.state?.waiting?.reason;
          const waiting = before === "ErrImagePull" || before === "ImagePullBackOff"
            ? { reason: "ImagePullBackOff", message: `Back-off pulling image "${c.image}"` }
            : { reason: "ErrImagePull", message: `failed to pull and unpack image "${c.image}": not found` };
          return { name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, state: { waiting } };
        }
        return { name: c.name, image: c.image, imageID: `sha256:${c.image.length}`, ready: true, restartCount: 0, started: true, state: { running: { startedAt: new Date() } } };
      });
      const running = statuses.every((s) => s.state.running);
      pod.status = {
        ...pod.status,
        phase: running ? "Running" : "Pending",
        podIP: `10.244.${this.nodes.findIndex((n) => n.name === pod.spec.nodeName)}.${++this.nextIp}`,
        containerStatuses: statuses,
      };
      for (const s of statuses.filter((x) => x.state.waiting)) this.event(ns, `Pod/${pod.metadata!.name}`, s.state.waiting!.reason, s.state.waiting!.message);
    }
  }

  // --- the API, as @kubernetes/client-node's object-parameter clients call it ------------------------------------

  private makeClients(): KubeClients {
    // Callers get copies, as from the wire (an exec's socket is not one).
    const api = <T>(f: () => T, copy = true): Promise<T> => {
      try {
        this.step();
        const r = f();
        return Promise.resolve(copy ? structuredClone(r) : r);
      } catch (e) {
        return Promise.reject(e);
      }
    };
    const named = (kind: string) => ({
      read: ({ name, namespace }: { name: string; namespace?: string }) => api(() => this.must(kind, namespace, name)),
      list: ({ namespace, labelSelector }: { namespace?: string; labelSelector?: string }) => api(() => ({ items: this.list(kind, namespace, labelSelector) })),
    });
    const core = {
      createNamespace: ({ body }: { body: Obj }) => api(() => this.store({ ...body, apiVersion: "v1", kind: "Namespace" }, "create")),
      readNamespace: named("Namespace").read,
      deleteNamespace: ({ name }: { name: string }) =>
        api(() => {
          const ns = this.must("Namespace", undefined, name);
          ns.metadata!.deletionTimestamp ??= new Date();
          ns.status = { phase: "Terminating" };
          this.writes.push(`delete Namespace ${name}`);
          return ns;
        }),
      listNode: () => api(() => ({ items: this.nodes.map((n) => this.nodeObject(n)) })),
      readNode: ({ name }: { name: string }) =>
        api(() => {
          const n = this.nodes.find((x) => x.name === name);
          if (!n) throw apiError(404, "NotFound", `nodes "${name}" not found`);
          return this.nodeObject(n);
        }),
      listNamespacedPod: named("Pod").list,
      readNamespacedPod: named("Pod").read,
      patchNamespacedPod: ({ name, namespace, body }: { name: string; namespace: string; body: Array<{ op: string; path: string; value: unknown }> }) =>
        api(() => {
          const pod = this.must("Pod", namespace, name);
          for (const op of body) {
            if (op.path !== "/spec/schedulingGates") throw new Error(`FakeKube: patchNamespacedPod of ${op.path} is not modelled`);
            if (op.op === "test" && JSON.stringify(pod.spec.schedulingGates ?? []) !== JSON.stringify(op.value)) throw apiError(422, "Invalid", "the server rejected our request due to an error in our request: test failed");
          }
          const replace = body.find((o) => o.op === "replace");
          if (replace) {
            const gates = replace.value as Array<{ name: string }>;
            // The API server lets gates be removed from a pod, never added.
            if (gates.some((g) => !(pod.spec.schedulingGates ?? []).some((x: { name: string }) => x.name === g.name))) throw apiError(422, "Invalid", "spec.schedulingGates: Forbidden: only deletion is allowed");
            pod.spec.schedulingGates = gates;
            this.writes.push(`release Pod ${namespace}/${name}`);
          }
          return pod;
        }),
      readNamespacedPodLog: ({ name, namespace, container, previous }: { name: string; namespace: string; container?: string; previous?: boolean }) =>
        api(() => {
          const pod = this.must("Pod", namespace, name);
          const s = (pod.status?.containerStatuses ?? []).find((c: { name: string }) => c.name === container);
          if (previous || !s?.state?.running) throw apiError(400, "BadRequest", `container "${container}" in pod "${name}" is ${previous ? "not terminated" : "waiting to start"}`);
          return `log of ${container} in ${name}\n`;
        }),
      createNamespacedConfigMap: ({ namespace, body }: { namespace: string; body: Obj }) =>
        api(() => this.store({ ...body, apiVersion: "v1", kind: "ConfigMap", metadata: { ...body.metadata, namespace } }, "create")),
      readNamespacedConfigMap: named("ConfigMap").read,
      listNamespacedConfigMap: named("ConfigMap").list,
      listNamespacedService: named("Service").list,
      readNamespacedService: named("Service").read,
      listNamespacedEvent: ({ namespace }: { namespace: string }) =>
        api(() => ({
          items: this.events
            .filter((e) => e.namespace === namespace)
            .map((e) => ({ type: "Warning", reason: e.reason, message: e.message, involvedObject: { kind: e.object.split("/")[0], name: e.object.split("/")[1] }, metadata: {} })),
        })),
    };
    const discovery = {
      // The endpoints controller: a Service's ready pods, by its selector.
      listNamespacedEndpointSlice: ({ namespace, labelSelector }: { namespace: string; labelSelector?: string }) =>
        api(() => {
          const svcName = /kubernetes\.io\/service-name=([^,]+)/.exec(labelSelector ?? "")?.[1];
          const svc = svcName ? this.get("Service", namespace, svcName) : undefined;
          if (!svc) return { items: [] };
          const pods = this.list("Pod", namespace).filter((p) => p.status?.phase === "Running" && matchLabels(p.metadata?.labels, svc.spec?.selector));
          return {
            items: [
              {
                addressType: "IPv4",
                metadata: { name: `${svcName}-x`, labels: { "kubernetes.io/service-name": svcName } },
                endpoints: pods.map((p) => ({ addresses: [p.status.podIP], conditions: { ready: true }, targetRef: { kind: "Pod", name: p.metadata!.name, namespace } })),
                ports: (svc.spec?.ports ?? []).map((p: { port: number; name?: string }) => ({ port: p.port, name: p.name })),
              },
            ],
          };
        }),
    };
    const objects = {
      patch: (obj: Obj, _pretty?: unknown, _dryRun?: unknown, fieldManager?: string, force?: boolean, patchStrategy?: string) =>
        api(() => {
          if (patchStrategy !== PatchStrategy.ServerSideApply) {
            // A merge patch (client-node's default) of an object that does not exist: the API server's 404.
            this.must(obj.kind!, obj.metadata?.namespace, obj.metadata?.name ?? "");
            throw new Error(`FakeKube: objects.patch with ${patchStrategy ?? "the default strategic merge"} is not modelled`);
          }
          if (!fieldManager || force !== true) throw apiError(400, "BadRequest", "server-side apply needs a fieldManager, and force for a fieldManager to take fields over");
          return this.store(obj, "apply");
        }),
      list: (_apiVersion: string, kind: string, namespace?: string, _p?: unknown, _e?: unknown, _x?: unknown, _f?: unknown, labelSelector?: string) =>
        api(() => ({ items: this.list(kind, namespace, labelSelector) })),
      delete: (obj: Obj) =>
        api(() => {
          const o = this.must(obj.kind!, obj.metadata?.namespace, obj.metadata?.name ?? "");
          this.remove(o);
          // The garbage collector: what the object owns goes with it.
          for (const owned of [...this.objects.values()].filter((x) => (x.metadata?.ownerReferences ?? []).some((r) => r.uid === o.metadata?.uid))) this.remove(owned, "gc");
          return o;
        }),
    };
    const exec = {
      exec: (namespace: string, name: string, container: string, argv: string[], stdout: NodeJS.WritableStream | null, stderr: NodeJS.WritableStream | null, _stdin: unknown, _tty: boolean, status?: (s: unknown) => void) =>
        api(() => {
          const pod = this.must("Pod", namespace, name) as V1Pod;
          const s = pod.status?.containerStatuses?.find((c) => c.name === container);
          if (!s?.state?.running) throw apiError(400, "BadRequest", `unable to upgrade connection: container not found ("${container}")`);
          const r = this.opts.exec?.(pod, container, argv) ?? {};
          if (r.stdout) stdout?.write(r.stdout);
          if (r.stderr) stderr?.write(r.stderr);
          const code = r.exitCode ?? 0;
          status?.(code === 0 ? { status: "Success" } : { status: "Failure", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: String(code) }] } });
          // A WebSocket already closed: the command has run.
          return { readyState: 3, CLOSED: 3, on: () => undefined };
        }, false),
    };
    const refuse = (group: string) =>
      new Proxy(
        {},
        {
          get: (_t, p) => {
            if (p === "then") return undefined;
            return () => Promise.reject(new Error(`FakeKube: ${group}.${String(p)} is not modelled`));
          },
        },
      );
    const withRefusal = <T extends object>(group: string, o: T): T => new Proxy(o, { get: (t, p) => (p in t ? t[p as keyof T] : (refuse(group) as Record<string | symbol, unknown>)[p]) });
    return {
      kc: undefined as never,
      core: withRefusal("core", core),
      coordination: refuse("coordination"),
      discovery: withRefusal("discovery", discovery),
      objects: withRefusal("objects", objects),
      exec: withRefusal("exec", exec),
    } as unknown as KubeClients;
  }

  private nodeObject(n: FakeNode) {
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: n.name, labels: { "kubernetes.io/hostname": n.name, ...(n.labels ?? {}) }, annotations: {} },
      spec: { taints: n.taints ?? [] },
      status: { conditions: [{ type: "Ready", status: n.ready === false ? "False" : "True" }] },
    };
  }
}
