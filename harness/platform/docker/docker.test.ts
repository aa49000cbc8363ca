import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { imageRecipe } from "./image.ts";
import { ensureDaemon } from "./daemon.ts";
import { EnvironmentError } from "../../util/errors.ts";

describe("the docker platform's image", () => {
  it("pins the versions the local platform runs here, and is tagged by everything that goes into it", () => {
    const r = imageRecipe();
    const v = (p: string) => execFileSync("dpkg-query", ["-W", "-f=${Version}", p], { encoding: "utf8" });
    expect(r.packages).toContain(`patroni=${v("patroni")}`);
    expect(r.packages).toContain(`postgresql-15=${v("postgresql-15")}`);
    expect(r.tag).toMatch(/^pgchaos\/member:bookworm-[0-9a-f]{12}$/);
    expect(imageRecipe().tag).toBe(r.tag);
    // The pod's scripts are the Kubernetes platforms' own.
    expect(Object.keys(r.scripts)).toEqual(["pod-init.sh", "pgchaos-ctl.sh"]);
    expect(r.dockerfile).toMatch(/create_main_cluster = false/);
  });
});

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
