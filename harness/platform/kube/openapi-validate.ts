/**
 * Test support: validates an object against the JSON schema that kubernetes-models generates from the
 * Kubernetes OpenAPI specification (`new Model(data).validate()`), chosen by the object's apiVersion and kind.
 * The package is a dev dependency: the API server validates again at apply time, this catches a broken
 * manifest in a unit test, without a cluster.
 */
import { ConfigMap, Namespace, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { StatefulSet } from "kubernetes-models/apps/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { Eviction, PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";

type Validating = new (data?: never) => { validate(): void };

const MODELS: Record<string, Validating> = {
  "v1/ConfigMap": ConfigMap as unknown as Validating,
  "v1/Namespace": Namespace as unknown as Validating,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim as unknown as Validating,
  "v1/Pod": Pod as unknown as Validating,
  "v1/Secret": Secret as unknown as Validating,
  "v1/Service": Service as unknown as Validating,
  "v1/ServiceAccount": ServiceAccount as unknown as Validating,
  "apps/v1/StatefulSet": StatefulSet as unknown as Validating,
  "rbac.authorization.k8s.io/v1/Role": Role as unknown as Validating,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding as unknown as Validating,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget as unknown as Validating,
  "policy/v1/Eviction": Eviction as unknown as Validating,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy as unknown as Validating,
};

/** Throws, naming the object and every schema violation, unless `obj` is valid for its apiVersion and kind. */
export function validateObject(obj: unknown): void {
  const o = obj as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
  const key = `${String(o?.apiVersion)}/${String(o?.kind)}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no OpenAPI schema for ${key} (known: ${Object.keys(MODELS).join(", ")})`);
  const { apiVersion: _a, kind: _k, ...data } = o as Record<string, unknown>;
  try {
    new Model(data as never).validate();
  } catch (e) {
    const errors = (e as { errors?: Array<{ instancePath?: string; message?: string }> }).errors;
    const detail = errors?.map((x) => `${x.instancePath || "/"} ${x.message}`).join("; ") ?? (e as Error).message;
    throw new Error(`${key} ${String(o.metadata?.name ?? "(unnamed)")} is invalid: ${detail}`);
  }
}
