import { describe, expect, it } from "vitest";
import { ensureDaemon } from "./daemon.ts";
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
