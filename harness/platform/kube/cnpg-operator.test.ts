/**
 * CloudNativePG's operator as `npm run kind:cluster -- up --operator cnpg` installs it: its manifests as kustomize
 * renders them, with our image and every schema key kept, the kubectl that renders them, and the script's refusals.
 * The build and the install run for real in the kube tier (kube-attach.e2e.test.ts).
 */
import { afterAll, describe, expect, it } from "vitest";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { ROOT } from "../../e2e/cli-run.ts";
import { execa } from "execa";
import { cnpgBuildTools, cnpgManifests, CNPG_OPERATOR_IMAGE, findKubectl } from "./cnpg-operator.ts";
import { EnvironmentError } from "../../util/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "pgchaos-cnpg-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `kubectl kustomize config/default` prints, in part: a CRD with an int-or-string field, and the operator's Deployment. */
const RENDERED = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusters.postgresql.cnpg.io
spec:
  versions:
  - name: v1
    schema:
      openAPIV3Schema:
        properties:
          shm:
            anyOf:
            - type: integer
            - type: string
            x-kubernetes-int-or-string: true
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cnpg-controller-manager
  namespace: cnpg-system
spec:
  template:
    spec:
      containers:
      - name: manager
        image: controller:latest
        env:
        - name: OPERATOR_IMAGE_NAME
          value: controller:latest
        - name: OPERATOR_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
`;

describe("CloudNativePG's operator manifests", () => {
  it("are kustomize's output with the operator's image ours, never pulled, and passed to the pods it makes; the YAML kubectl applies keeps the schemas' x-kubernetes keys", async () => {
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    const kubectl = join(bin, "kubectl");
    writeFileSync(join(dir, "rendered.yaml"), RENDERED);
    writeFileSync(kubectl, `#!/bin/sh\n[ "$1" = kustomize ] && [ "$2" = "${join(dir, "src", "config", "default")}" ] || exit 9\ncat "${join(dir, "rendered.yaml")}"\n`);
    chmodSync(kubectl, 0o755);
    const objects = await cnpgManifests(join(dir, "src"), kubectl);
    expect(objects.map((o) => o.kind)).toEqual(["CustomResourceDefinition", "Deployment"]);
    const c = (objects[1] as unknown as { spec: { template: { spec: { containers: Array<{ image: string; imagePullPolicy: string; env: Array<{ name: string; value?: string }> }> } } } }).spec.template.spec.containers[0]!;
    expect(c.image).toBe(CNPG_OPERATOR_IMAGE);
    expect(c.imagePullPolicy).toBe("IfNotPresent");
    expect(c.env.find((e) => e.name === "OPERATOR_IMAGE_NAME")?.value).toBe(CNPG_OPERATOR_IMAGE);
    // The YAML installCnpgOperator gives kubectl apply (not @kubernetes/client-node, whose typed serializer drops the key).
    const crd = parseAllDocuments(stringify(objects[0]))[0]!.toJS() as { spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { shm: Record<string, unknown> } } } }> } };
    expect(crd.spec.versions[0]!.schema.openAPIV3Schema.properties.shm["x-kubernetes-int-or-string"]).toBe(true);
  });

  it("are rendered by the PATH's kubectl, else the one the node image's build made, else refused saying how to get one; Go is checked beside it", () => {
    const onPath = join(dir, "path");
    const built = join(dir, "built");
    const notRunnable = join(dir, "not-runnable");
    for (const d of [onPath, built, notRunnable]) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "kubectl"), "#!/bin/sh\n", { mode: d === notRunnable ? 0o644 : 0o755 });
    }
    expect(findKubectl({ PATH: `/nonexistent:${notRunnable}:${onPath}` }, built)).toBe(join(onPath, "kubectl"));
    expect(findKubectl({ PATH: "/nonexistent" }, built)).toBe(join(built, "kubectl"));
    expect(() => findKubectl({ PATH: "/nonexistent" }, join(dir, "none"))).toThrow(EnvironmentError);
    expect(() => findKubectl({ PATH: "/nonexistent" })).toThrow(/needs kubectl .*npm run kind:image/);
    // Go first, before anything starts: kind:cluster up --operator cnpg checks both.
    expect(() => cnpgBuildTools({ PATH: onPath }, built)).toThrow(/needs Go \(go on the PATH\)/);
    const goDir = join(dir, "go");
    mkdirSync(goDir, { recursive: true });
    writeFileSync(join(goDir, "go"), "#!/bin/sh\n", { mode: 0o755 });
    expect(cnpgBuildTools({ PATH: `${goDir}:${onPath}` }, built)).toEqual({ kubectl: join(onPath, "kubectl") });
  });
});

describe("npm run kind:cluster -- up --operator", () => {
  it("takes cnpg only, and only with up, refusing before anything starts (exit 2)", async () => {
    const script = (args: string[]) => execa("node", ["--import", "tsx", "scripts/kind-cluster.ts", ...args], { cwd: ROOT, reject: false, all: true });
    const bad = await script(["up", "--operator", "stackgres"]);
    expect(bad.exitCode, bad.all).toBe(2);
    expect(bad.stderr).toMatch(/--operator takes cnpg \(CloudNativePG 1\.24\.1, built from the Go module proxy\), not "stackgres"/);
    const down = await script(["down", "--operator", "cnpg"]);
    expect(down.exitCode, down.all).toBe(2);
    expect(down.stderr).toMatch(/--operator goes with up/);
  });
});
