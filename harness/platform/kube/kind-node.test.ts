import { describe, expect, it } from "vitest";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { KIND_NODE_DIR, kindNodeTag, missingCapabilities } from "./kind-node.ts";

describe("kind node image of ours", () => {
  it("is tagged by Kubernetes' version and a hash of every file that builds it, so a change is a new image", () => {
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-kindnode-"));
    try {
      cpSync(KIND_NODE_DIR, dir, { recursive: true });
      const tag = kindNodeTag(dir);
      expect(tag).toMatch(/^pgchaos\/kind-node:v1\.34\.4-[0-9a-f]{12}$/);
      expect(kindNodeTag(dir)).toBe(tag);
      writeFileSync(join(dir, "manifests", "default-cni.yaml"), "# changed\n", { flag: "a" });
      expect(kindNodeTag(dir)).not.toBe(tag);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("knows when docker run --privileged cannot work: a bounding set without every capability of the kernel", () => {
    // 41 capabilities (cap_last_cap 40): all of them, and all but CAP_SYS_RESOURCE (24) as on this machine.
    expect(missingCapabilities("Name:\tx\nCapBnd:\t000001ffffffffff\n", 40)).toEqual([]);
    expect(missingCapabilities("Name:\tx\nCapBnd:\t000001fffeffffff\n", 40)).not.toEqual([]);
    // A newer kernel's extra capability the daemon's set lacks counts too.
    expect(missingCapabilities("CapBnd:\t000000ffffffffff\n", 40)).not.toEqual([]);
    expect(missingCapabilities("Name:\tx\nCapBnd:\t000001fffeffffff\n", 40)).toEqual(["SYS_RESOURCE"]);
    expect(missingCapabilities("CapBnd:\t000000fffeffffff\n", 40)).toEqual(["SYS_RESOURCE", "CHECKPOINT_RESTORE"]);
  });

  it("ignores an editor's backup files in the tag's hash", () => {
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-kindnode-"));
    try {
      cpSync(KIND_NODE_DIR, dir, { recursive: true });
      const tag = kindNodeTag(dir);
      writeFileSync(join(dir, "build.sh~"), "old\n");
      writeFileSync(join(dir, ".build.sh.swp"), "x");
      expect(kindNodeTag(dir)).toBe(tag);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("kind's docker, where --privileged cannot work (scripts/kind-node/shims/docker)", () => {
  // A stand-in docker that prints its arguments, one per line, after the shim on PATH; like an internal network's
  // container, it has no published port to inspect.
  function shim(args: string[], capDrop = "SYS_RESOURCE"): string[] {
    const bin = mkdtempSync(join(tmpdir(), "pgchaos-shim-"));
    try {
      writeFileSync(join(bin, "docker"), '#!/bin/sh\nif [ "$1" = inspect ]; then case "$*" in *6443/tcp*) exit 1 ;; esac; echo 10.251.0.5; exit 0; fi\nprintf "%s\\n" "$@"\n', { mode: 0o755 });
      const r = spawnSync(join(KIND_NODE_DIR, "shims", "docker"), args, { env: { PATH: `${join(KIND_NODE_DIR, "shims")}:${bin}:/usr/bin:/bin`, PGCHAOS_KIND_CAP_DROP: capDrop }, encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim().split("\n");
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  }

  it("leaves --privileged alone where the machine lacks no capability", () => {
    expect(shim(["run", "--privileged", "img"], "")).toEqual(["run", "--privileged", "img"]);
    expect(shim(["exec", "--privileged", "n", "true"], "")).toEqual(["exec", "--privileged", "n", "true"]);
  });

  it("gives a node every capability but CAP_SYS_RESOURCE, and every device, instead of --privileged", () => {
    const out = shim(["run", "--name", "n", "--privileged", "--tmpfs", "/run", "img"]);
    expect(out).not.toContain("--privileged");
    expect(out.join(" ")).toContain("--cap-add ALL --cap-drop SYS_RESOURCE --security-opt systempaths=unconfined --device /dev/kmsg --device-cgroup-rule a *:* rwm");
    expect(out.slice(-3)).toEqual(["--tmpfs", "/run", "img"]);
  });

  it("drops --privileged from an exec, and passes other commands through untouched", () => {
    expect(shim(["exec", "--privileged", "n", "cat", "/kind/version"])).toEqual(["exec", "n", "cat", "/kind/version"]);
    expect(shim(["ps", "-a", "--filter", "label=x"])).toEqual(["ps", "-a", "--filter", "label=x"]);
  });

  it("answers the API server's published port with the control plane's own address", () => {
    expect(shim(["inspect", "--format", '{{ with (index (index .NetworkSettings.Ports "6443/tcp") 0) }}{{ .HostPort }}{{ end }}', "pgchaos-control-plane"])).toEqual(["10.251.0.5\t6443"]);
  });
});
