import { describe, expect, it } from "vitest";
import pino from "pino";
import type { Cluster } from "../platform/types.ts";
import { partitionFault } from "./network.ts";

/** A cluster that records the rules a fault asks for: only what partitionFault calls is there. */
function recordingCluster(serviceHosts?: string[]) {
  const rules: Array<{ node: string; args: string }> = [];
  const addresses: Record<string, string> = { n1: "10.213.7.1", n2: "10.213.7.2", n3: "10.213.7.3", monitor: "10.213.7.4" };
  const cluster = {
    nodes: ["n1", "n2", "n3"],
    serviceHosts,
    ruleTag: "pgchaos-abc123",
    clientsAddress: "10.213.7.254",
    addressOf: (n: string) => addresses[n]!,
    iptables: async (node: string, args: string[]) => {
      rules.push({ node, args: args.join(" ") });
    },
  } as unknown as Cluster;
  return { cluster, rules };
}

describe("partitions and the stack's service hosts", () => {
  it("an isolated member is cut from a monitor on its own host, which drops it too", async () => {
    const { cluster, rules } = recordingCluster(["monitor"]);
    await partitionFault("isolate", "primary").inject({ cluster, log: pino({ level: "silent" }) }, ["n1"]);
    expect(rules).toContainEqual({ node: "n1", args: expect.stringContaining("-A INPUT -s 10.213.7.4 ") });
    expect(rules).toContainEqual({ node: "monitor", args: expect.stringContaining("-A INPUT -s 10.213.7.1 ") });
    // The monitor keeps the other members.
    expect(rules.filter((r) => r.node === "monitor").map((r) => r.args).join("\n")).not.toMatch(/10\.213\.7\.[23] /);
  });

  it("without service hosts nothing but the members holds rules", async () => {
    const { cluster, rules } = recordingCluster();
    await partitionFault("isolate", "primary").inject({ cluster, log: pino({ level: "silent" }) }, ["n1"]);
    expect(new Set(rules.map((r) => r.node))).toEqual(new Set(["n1", "n2", "n3"]));
    expect(rules.map((r) => r.args).join("\n")).not.toContain("10.213.7.4");
  });
});
