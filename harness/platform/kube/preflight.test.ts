import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KIND_INOTIFY, kubeProblems, onPath, parseDockerInfo, type MachineFacts } from "./preflight.ts";

const good: MachineFacts = {
  os: "linux",
  uid: 0,
  found: { docker: true, kind: true, minikube: true, nsenter: true },
  docker: { ok: true, operatingSystem: "Ubuntu 24.04.2 LTS", kernelVersion: "6.8.0-60-generic" },
  kernelRelease: "6.8.0-60-generic",
  inotify: { maxUserWatches: 1048576, maxUserInstances: 8192 },
};

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

  it("gives a sudo command that keeps PATH (sudo's secure_path drops nvm's node and ~/go/bin) and the environment", () => {
    const [p] = kubeProblems("kind", { ...good, uid: 1000 });
    expect(p).toContain('`sudo -E env "PATH=$PATH" npm run scenario -- <scenario> --platform kind`');
  });

  it("says how minikube's docker driver runs as root, which it refuses without --force (DRV_AS_ROOT)", () => {
    const [p] = kubeProblems("minikube", { ...good, uid: 1000 });
    expect(p).toMatch(/needs root: run as root.*sudo -E env "PATH=\$PATH" npm run scenario -- <scenario> --platform minikube/);
    expect(p).toMatch(/minikube's docker driver refuses root \(DRV_AS_ROOT\), so the platform starts it with `--force`/);
    expect(kubeProblems("kind", { ...good, uid: 1000 })[0]).not.toMatch(/DRV_AS_ROOT/);
  });

  it("refuses Docker Desktop, whose container pids are its VM's, and an engine on another kernel", () => {
    const desktop = kubeProblems("kind", { ...good, docker: { ok: true, operatingSystem: "Docker Desktop", kernelVersion: "6.10.14-linuxkit" } });
    expect(desktop).toEqual([expect.stringMatching(/^the Docker engine is Docker Desktop, which runs containers in a VM of its own: .*nothing on this host can enter/)]);
    // WSL2 with Docker Desktop's integration: the same kernel, but the engine is in Docker Desktop's own distribution.
    const wsl = kubeProblems("kind", { ...good, kernelRelease: "5.15.167.4-microsoft-standard-WSL2", docker: { ok: true, operatingSystem: "Docker Desktop", kernelVersion: "5.15.167.4-microsoft-standard-WSL2" } });
    expect(wsl).toEqual([expect.stringMatching(/Docker Desktop \(WSL2 integration\).*Install Docker Engine in this Linux distribution \(WSL2\)/)]);
    // Docker Engine installed in the WSL2 distribution itself runs its containers as processes of this host.
    expect(kubeProblems("kind", { ...good, kernelRelease: "5.15.167.4-microsoft-standard-WSL2", docker: { ok: true, operatingSystem: "Ubuntu 24.04.1 LTS", kernelVersion: "5.15.167.4-microsoft-standard-WSL2" } })).toEqual([]);
    expect(kubeProblems("minikube", { ...good, docker: { ok: true, operatingSystem: "Fedora CoreOS", kernelVersion: "6.1.0-remote" } })).toEqual([
      expect.stringMatching(/runs on another kernel \(6\.1\.0-remote\) than this host \(6\.8\.0-60-generic\)/),
    ]);
  });

  it("reads what it needs of `docker info`", () => {
    expect(parseDockerInfo(JSON.stringify({ OperatingSystem: "Docker Desktop", KernelVersion: "6.10.14-linuxkit", ServerVersion: "28.1.1" }))).toEqual({
      ok: true,
      operatingSystem: "Docker Desktop",
      kernelVersion: "6.10.14-linuxkit",
    });
    expect(parseDockerInfo(JSON.stringify({ ServerErrors: ["Cannot connect to the Docker daemon"] }))).toEqual({ ok: false, error: "Cannot connect to the Docker daemon" });
    expect(parseDockerInfo("Client: Docker Engine")).toMatchObject({ ok: false });
  });

  it("says how to raise inotify limits too low for a multi-node kind cluster (kind only)", () => {
    const low = { ...good, inotify: { maxUserWatches: 65536, maxUserInstances: 128 } };
    const [p] = kubeProblems("kind", low);
    expect(p).toMatch(/inotify limits are too low .*max_user_watches=65536, fs\.inotify\.max_user_instances=128/);
    expect(p).toContain("`sudo sysctl -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512`");
    expect(p).toContain("sudo tee /etc/sysctl.d/99-kind.conf");
    expect(kubeProblems("kind", { ...good, inotify: { ...KIND_INOTIFY } })).toEqual([]);
    expect(kubeProblems("kind", { ...good, inotify: { maxUserWatches: 1048576, maxUserInstances: 128 } })).toHaveLength(1);
    expect(kubeProblems("minikube", low)).toEqual([]);
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
