import { describe, expect, it } from "vitest";
import { walReceiverProblem } from "./walreceiver.ts";

describe("walReceiverProblem", () => {
  it("accepts a receiver streaming on the leader's timeline", () => {
    expect(walReceiverProblem({ status: "streaming", timeline: 3 }, 3)).toBeUndefined();
    expect(walReceiverProblem({ status: "streaming", timeline: 3 }, undefined)).toBeUndefined();
    // A role that may see the receiver's pid alone: it counts once it has received WAL.
    expect(walReceiverProblem({ hidden: true, received: true }, 3)).toBeUndefined();
    expect(walReceiverProblem({ hidden: true, received: false }, 3)).toMatch(/received nothing yet/);
  });

  it("names a missing, starting or off-timeline receiver", () => {
    expect(walReceiverProblem({}, 2)).toBe("no WAL receiver");
    expect(walReceiverProblem({ status: "waiting", timeline: 2 }, 2)).toBe("WAL receiver waiting");
    expect(walReceiverProblem({ status: "streaming", timeline: 1 }, 2)).toBe("WAL receiver on timeline 1, leader on 2");
  });
});
