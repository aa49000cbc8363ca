import { describe, expect, it } from "vitest";
import { hostBackProblem, type HostBackInput } from "./host-back.ts";

const since = Date.parse("2025-06-01T12:00:10.500Z");
const pod = { name: "pg-1", uid: "u1", nodeName: "pgchaos-worker2" };
const back: HostBackInput = {
  since,
  node: "pgchaos-worker2",
  leaseRenewTime: new Date(since + 2_000),
  ready: "True",
  pod: { ...pod, containerStartedAt: new Date("2025-06-01T12:00:14Z") },
  failedUid: "u1",
};

describe("a failed node back", () => {
  it("is back with a heartbeat and a container start after the restart", () => {
    expect(hostBackProblem(back)).toBeUndefined();
    // startedAt has whole seconds: a start in the restart's second counts.
    expect(hostBackProblem({ ...back, pod: { ...pod, containerStartedAt: "2025-06-01T12:00:10Z" } })).toBeUndefined();
  });

  it("is not back on a stale Ready: the Node stays Ready for the grace period after its kubelet died", () => {
    // What the old restoreHost accepted: Ready=True alone.
    const stale = { ...back, leaseRenewTime: new Date(since - 8_000) };
    expect(stale.ready).toBe("True");
    expect(hostBackProblem(stale)).toBe(
      "no kubelet heartbeat from pgchaos-worker2 since its restart at 2025-06-01T12:00:10.500Z (its Lease was last renewed 2025-06-01T12:00:02.500Z)",
    );
    expect(hostBackProblem({ ...back, leaseRenewTime: undefined })).toMatch(/last renewed never/);
    expect(hostBackProblem({ ...back, ready: "Unknown" })).toBe("node pgchaos-worker2 is not Ready yet (Ready=Unknown)");
  });

  it("waits for the member's container to start again: the pod's state from before the failure says running", () => {
    const old = { ...back, pod: { ...pod, containerStartedAt: new Date(since - 600_000) } };
    expect(hostBackProblem(old)).toMatch(/^the container of pod pg-1 has not started again since the restart \(it last started 2025-06-01T11:50:10/);
    expect(hostBackProblem({ ...back, pod: { ...pod } })).toMatch(/last started never/);
  });

  it("leaves a replacement pod, or none, to startNode", () => {
    expect(hostBackProblem({ ...back, pod: { ...pod, uid: "u2" } })).toBeUndefined();
    expect(hostBackProblem({ ...back, pod: undefined })).toBeUndefined();
  });
});
