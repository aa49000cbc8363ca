import { describe, expect, it } from "vitest";
import { describeStack } from "./index.ts";

describe("a stack as the container platforms run it", () => {
  it("is described, not installed: Debian 12's Patroni where the image's package puts it, another in the image's stack folder", () => {
    const system = describeStack(undefined);
    expect(system.info).toMatchObject({ name: "patroni@3.0.2", version: "3.0.2", source: "Debian 12's patroni package, in the member image" });
    expect(system.installed.bin).toBe("/usr/bin/patroni");
    const other = describeStack("patroni@4.1.5");
    expect(other.installed.bin).toBe("/opt/pgchaos/stacks/patroni-4.1.5/bin/patroni");
    expect(other.info.source).toMatch(/patroni_4\.1\.5-\S+_all\.deb \(SHA-256 checked in the image build\), in the member image/);
    expect(other.info.package?.sha256).toBe(other.version.debian.sha256);
    expect(() => describeStack("patroni@9")).toThrow(/unknown stack/);
  });
});
