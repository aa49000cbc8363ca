import { describe, expect, it } from "vitest";
import { PREFIX, newRunId, nodeName, pickSubnet, runNames, subnet } from "./names.ts";

/** Linux IFNAMSIZ is 16 including the terminating NUL. */
const IFNAMSIZ_CHARS = 15;

describe("runNames", () => {
  it("builds names that carry the prefix and the run id", () => {
    const n = runNames("a1b2c3");
    expect(n.bridge).toBe("pgca1b2c3br");
    expect(n.netns(1)).toBe("pgc-a1b2c3-n1");
    expect(n.vethHost(3)).toBe("pgca1b2c3h3");
    for (const name of [n.bridge, n.netns(2), n.vethHost(2)]) {
      expect(name.startsWith(PREFIX)).toBe(true);
      expect(name).toContain("a1b2c3");
    }
  });

  it("keeps every interface name within IFNAMSIZ (15 characters)", () => {
    const n = runNames("ffffff");
    expect(n.bridge.length).toBeLessThanOrEqual(IFNAMSIZ_CHARS);
    // Far beyond any cluster size pgchaos runs, and still within the limit.
    for (const i of [1, 9, 10, 99, 999, 9999]) {
      expect(n.vethHost(i).length, `vethHost(${i})`).toBeLessThanOrEqual(IFNAMSIZ_CHARS);
    }
  });

  it("gives every node distinct names, distinct from the bridge", () => {
    const n = runNames("0a0b0c");
    const links = [n.bridge, ...[1, 2, 3, 11].map((i) => n.vethHost(i))];
    expect(new Set(links).size).toBe(links.length);
    const ns = [1, 2, 3, 11].map((i) => n.netns(i));
    expect(new Set(ns).size).toBe(ns.length);
  });

  it("gives two runs disjoint names", () => {
    const a = runNames("000001");
    const b = runNames("000002");
    expect(a.bridge).not.toBe(b.bridge);
    expect(a.vethHost(1)).not.toBe(b.vethHost(1));
    expect(a.netns(1)).not.toBe(b.netns(1));
  });

  it.each(["", "abc12", "abc1234", "ABCDEF", "g00000", "../etc", "abc 12", "abc12\n", " abc123"])(
    "rejects the bad run id %j",
    (id) => {
      expect(() => runNames(id)).toThrow(/bad run id/);
    },
  );

  it("accepts what newRunId makes", () => {
    for (let k = 0; k < 20; k++) {
      const id = newRunId();
      expect(id).toMatch(/^[0-9a-f]{6}$/);
      expect(() => runNames(id)).not.toThrow();
    }
  });
});

describe("nodeName and subnet", () => {
  it("numbers nodes from the index", () => {
    expect(nodeName(1)).toBe("n1");
    expect(nodeName(12)).toBe("n12");
  });

  it("derives a /24, the bridge at .254 and node i at .i", () => {
    const s = subnet("10.213.45");
    expect(s.cidr).toBe("10.213.45.0/24");
    expect(s.bridgeAddress).toBe("10.213.45.254");
    expect(s.nodeAddress(1)).toBe("10.213.45.1");
    expect(s.nodeAddress(3)).toBe("10.213.45.3");
  });
});

describe("pickSubnet", () => {
  const third = (s: { base: string }) => Number(s.base.split(".")[2]);

  it("is deterministic with an injected random: the lowest and highest free /24", () => {
    expect(pickSubnet([], () => 0).base).toBe("10.213.1");
    expect(pickSubnet([], () => 0.999999).base).toBe("10.213.254");
    expect(pickSubnet([], () => 0.5).base).toBe(pickSubnet([], () => 0.5).base);
  });

  it("returns a full Subnet for the chosen /24", () => {
    const s = pickSubnet([], () => 0);
    expect(s.cidr).toBe("10.213.1.0/24");
    expect(s.bridgeAddress).toBe("10.213.1.254");
    expect(s.nodeAddress(2)).toBe("10.213.1.2");
  });

  it("never picks .0 or .255 as the third octet", () => {
    for (const r of [0, 0.25, 0.5, 0.75, 0.9999999]) {
      const x = third(pickSubnet([], () => r));
      expect(x).toBeGreaterThanOrEqual(1);
      expect(x).toBeLessThanOrEqual(254);
    }
  });

  it("skips 10.213.X prefixes already in use, as routes or bare addresses", () => {
    const used = ["10.213.1.0/24", "10.213.2.7", "10.213.3.254", "192.168.1.0/24", "10.212.4.0/24"];
    expect(pickSubnet(used, () => 0).base).toBe("10.213.4");
  });

  it("picks among the free /24s only, whatever random returns", () => {
    const used = Array.from({ length: 254 }, (_, k) => k + 1)
      .filter((x) => x !== 17 && x !== 200)
      .map((x) => `10.213.${x}.0/24`);
    expect(pickSubnet(used, () => 0).base).toBe("10.213.17");
    expect(pickSubnet(used, () => 0.99).base).toBe("10.213.200");
  });

  it("ignores routes outside 10.213.0.0/16, including the default gateway's address and other private ranges", () => {
    const used = ["172.17.0.0/16", "192.168.0.0/16", "10.0.0.1", "10.212.0.0/16", "10.214.0.0/16", "127.0.0.0/8", "0.0.0.0/1"];
    expect(pickSubnet(used, () => 0).base).toBe("10.213.1");
  });

  it.each(["10.0.0.0/8", "10.213.0.0/16"])("throws when a covering route %s exists", (route) => {
    expect(() => pickSubnet(["10.213.9.0/24", route], () => 0)).toThrow(`a route ${route} covers 10.213.0.0/16`);
  });

  it.each(["10.208.0.0/12", "10.192.0.0/10", "10.212.0.0/15", "10.128.0.0/9"])(
    "throws for any other 10.x route that covers the whole range: %s",
    (route) => {
      expect(() => pickSubnet([route], () => 0)).toThrow("covers 10.213.0.0/16");
    },
  );

  it("treats a /17../23 inside the range as using every /24 it covers", () => {
    // 10.213.0.0/17 covers 10.213.0-127: the first free one is then 128.
    expect(pickSubnet(["10.213.0.0/17"], () => 0).base).toBe("10.213.128");
    // 10.213.4.0/22 covers 4-7.
    const used = ["10.213.1.0/24", "10.213.2.0/24", "10.213.3.0/24", "10.213.4.0/22"];
    expect(pickSubnet(used, () => 0).base).toBe("10.213.8");
    // A /25 uses its one /24.
    expect(pickSubnet(["10.213.1.128/25"], () => 0).base).toBe("10.213.2");
  });

  it("throws when all 254 /24s are used", () => {
    const all = Array.from({ length: 254 }, (_, k) => `10.213.${k + 1}.0/24`);
    expect(() => pickSubnet(all, () => 0)).toThrow(/no free \/24 left/);
    // One left: it is the answer whatever random says.
    expect(pickSubnet(all.filter((p) => p !== "10.213.77.0/24"), () => 0.999).base).toBe("10.213.77");
  });
});
