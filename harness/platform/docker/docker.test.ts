import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { DOCKERD, OWN_DAEMON, answers, ensureDaemon, execRootMounts } from "./daemon.ts";
import { DEBOOTSTRAP_BASE, DOCKER, dockerBuild } from "../image.ts";
import { skipClusterTests } from "../../testing/leftovers.ts";
import { EnvironmentError } from "../../util/errors.ts";

describe("the docker platform refuses before it creates anything", () => {
  it("a DOCKER_HOST that does not answer", async () => {
    const was = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = "unix:///nonexistent/docker.sock";
    try {
      await expect(ensureDaemon()).rejects.toThrow(EnvironmentError);
      await expect(ensureDaemon()).rejects.toThrow(/DOCKER_HOST=unix:\/\/\/nonexistent\/docker.sock does not answer/);
    } finally {
      if (was === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = was;
    }
  });
});

describe.skipIf(skipClusterTests() || !existsSync(DOCKERD) || process.env.DOCKER_HOST !== undefined)("a daemon of ours shared by two runs", () => {
  it("is stopped by the last run that uses it, not by the run that started it", { timeout: 120_000 }, async (ctx) => {
    const first = await ensureDaemon();
    if (!first.ours) ctx.skip(); // A daemon answers here already (someone else's, or ours from another process).
    const second = await ensureDaemon();
    expect(second.ours).toBe(false);
    await first.stop();
    expect(await answers(OWN_DAEMON.socket)).toBe(true);
    await second.stop();
    expect(await answers(OWN_DAEMON.socket)).toBe(false);
    expect(execRootMounts()).toEqual([]);
  });

  it("is stopped by the run that started it once a run that found it has gone", { timeout: 120_000 }, async (ctx) => {
    const first = await ensureDaemon();
    if (!first.ours) ctx.skip();
    const second = await ensureDaemon();
    await second.stop();
    expect(await answers(OWN_DAEMON.socket)).toBe(true);
    await first.stop();
    expect(await answers(OWN_DAEMON.socket)).toBe(false);
  });

  it("is not kept running by a crashed run's lease: only live processes hold one", { timeout: 120_000 }, async (ctx) => {
    const first = await ensureDaemon();
    if (!first.ours) ctx.skip();
    // A lease left by a process that died.
    writeFileSync(join(OWN_DAEMON.users, "999999999-dead"), "");
    await first.stop();
    expect(await answers(OWN_DAEMON.socket)).toBe(false);
    expect(existsSync(OWN_DAEMON.users)).toBe(false);
  });
});

describe.skipIf(skipClusterTests() || !existsSync(DOCKERD))("an image build that fails", () => {
  it("says why and leaves no container behind", { timeout: 120_000 }, async (ctx) => {
    const d = await ensureDaemon();
    try {
      if ((await execa(DOCKER, ["-H", d.host, "image", "inspect", DEBOOTSTRAP_BASE], { reject: false })).exitCode !== 0) ctx.skip(); // No base built yet.
      const before = (await execa(DOCKER, ["-H", d.host, "ps", "-aq"])).stdout;
      const dir = mkdtempSync(join(tmpdir(), "pgchaos-failing-build-"));
      writeFileSync(join(dir, "Dockerfile"), `FROM ${DEBOOTSTRAP_BASE}\nRUN echo about to fail && false\n`);
      try {
        await expect(dockerBuild(d.host, "pgchaos/failing:1.0", dir, ["--network", "none"])).rejects.toThrow(/docker build of pgchaos\/failing:1\.0 failed:[\s\S]*returned a non-zero code/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      expect((await execa(DOCKER, ["-H", d.host, "ps", "-aq"])).stdout).toBe(before);
    } finally {
      await d.stop();
    }
  });
});
