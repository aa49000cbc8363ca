import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeProblems, onPath, type MachineFacts } from "./preflight.ts";

const good: MachineFacts = { os: "linux", uid: 0, found: { docker: true, kind: true, minikube: true, nsenter: true }, docker: { ok: true } };

describe("kube preflight", () => {
  it("finds nothing wrong on a machine that has everything", () => {
    expect(kubeProblems("kind", good)).toEqual([]);
    expect(kubeProblems("minikube", good)).toEqual([]);
  });

  it("says which binary is missing and how to install it", () => {
    const p = kubeProblems("kind", { ...good, found: { docker: true, kind: false, nsenter: true } });
    expect(p).toEqual([expect.stringMatching(/^`kind` is not on PATH: install kind \(https:\/\/kind\.sigs\.k8s\.io/)]);
    expect(kubeProblems("minikube", { ...good, found: { docker: true, kind: true, nsenter: true } })[0]).toMatch(/`minikube` is not on PATH: install minikube/);
  });

  it("lists every problem at once: no docker client, no engine, not root", () => {
    const p = kubeProblems("kind", { os: "linux", uid: 1000, found: { docker: false, kind: false, nsenter: true }, docker: { ok: false, error: "docker is not installed" } });
    expect(p).toHaveLength(3);
    expect(p[0]).toMatch(/`docker` is not on PATH: install Docker Engine/);
    expect(p[1]).toMatch(/`kind` is not on PATH/);
    expect(p[2]).toMatch(/needs root/);
  });

  it("tells an unreachable engine apart from a missing client", () => {
    const p = kubeProblems("kind", { ...good, docker: { ok: false, error: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\nmore" } });
    expect(p).toEqual([expect.stringMatching(/^the Docker engine does not answer \(`docker info`: Cannot connect to the Docker daemon.*running\?\): start it/)]);
  });

  it("refuses a host that is not Linux", () => {
    expect(kubeProblems("kind", { ...good, os: "darwin" })).toEqual([expect.stringMatching(/needs Linux with Docker Engine; this is darwin/)]);
  });

  it("looks binaries up on PATH", () => {
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-path-"));
    try {
      writeFileSync(join(dir, "kind"), "#!/bin/sh\n", { mode: 0o755 });
      writeFileSync(join(dir, "notexec"), "", { mode: 0o644 });
      expect(onPath("kind", dir)).toBe(true);
      expect(onPath("notexec", dir)).toBe(false);
      expect(onPath("minikube", dir)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
