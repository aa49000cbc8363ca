/**
 * KubeCluster's faults against a small stand-in of the Kubernetes API (the calls these faults make, with the
 * StatefulSet controller's and the kubelet's answers), an exec and a `docker`: what is asked, in which order,
 * and when the member is down. Nothing here reaches a cluster.
 */
import { describe, expect, it } from "vitest";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { V1Pod } from "@kubernetes/client-node";
import { getProfile } from "../../stack/patroni/profiles.ts";
import type { ClusterSpec } from "../types.ts";
import type { ExecResult, KubeClients } from "./client.ts";
import { KubeCluster, type DockerRun, type KubeRuntime } from "./cluster.ts";
import { TEST_IMAGE, testStack } from "./test-stack.ts";
import { HOLD_GATE } from "./manifests.ts";
import { podCommands } from "./pod-ops.ts";
import type { PodExec } from "./stack.ts";

const NS = "pgchaos-ab12cd34";
const notFound = () => Object.assign(new Error("not found"), { code: 404 });

/** One member's pod, pg-1 on node w2, as the API server keeps it; `log` records every call of interest in order. */
function standIn() {
  const log: string[] = [];
  let uids = 1;
  const running = (uid: string, startedAt = new Date()): V1Pod => ({
    metadata: { name: "pg-1", namespace: NS, uid },
    spec: { nodeName: "w2", containers: [] },
    status: { phase: "Running", podIP: "10.244.2.7", containerStatuses: [{ name: "patroni", image: "", imageID: "", ready: true, restartCount: 0, state: { running: { startedAt } } }] },
  });
  const state = {
    pod: running(`u${uids}`, new Date(Date.now() - 3_600_000)) as V1Pod | undefined,
    leaseRenew: new Date(Date.now() - 5_000),
  };
  const core = {
    async readNamespacedPod({ name }: { name: string }) {
      if (name !== "pg-1" || !state.pod) throw notFound();
      return structuredClone(state.pod);
    },
    async listNamespacedPod() {
      return { items: state.pod ? [structuredClone(state.pod)] : [] };
    },
    async readNamespacedConfigMap() {
      throw notFound();
    },
    async deleteNamespacedPod(a: { name: string; gracePeriodSeconds?: number; body?: { preconditions?: { uid?: string } } }) {
      log.push(`delete ${a.name} grace=${a.gracePeriodSeconds} uid=${a.body?.preconditions?.uid}`);
      if (state.pod && a.body?.preconditions?.uid && a.body.preconditions.uid !== state.pod.metadata!.uid) throw Object.assign(new Error("conflict"), { code: 409 });
      // The StatefulSet controller recreates the pod at once, from its template: held.
      state.pod = { metadata: { name: a.name, namespace: NS, uid: `u${++uids}` }, spec: { containers: [], schedulingGates: [{ name: HOLD_GATE }] }, status: { phase: "Pending" } };
    },
    async patchNamespacedPod({ name, body }: { name: string; body: Array<{ op: string; path: string; value: unknown }> }) {
      log.push(`patch ${name} ${JSON.stringify(body)}`);
      const replace = body.find((o) => o.op === "replace" && o.path === "/spec/schedulingGates");
      if (state.pod && replace && (replace.value as unknown[]).length === 0) {
        // Released: scheduled and started by the kubelet.
        state.pod = running(state.pod.metadata!.uid!);
      }
      return structuredClone(state.pod!);
    },
    async readNode({ name }: { name: string }) {
      return { metadata: { name, labels: {}, annotations: {} }, status: { conditions: [{ type: "Ready", status: "True" }] } };
    },
    async patchNode({ name }: { name: string }) {
      log.push(`patchNode ${name}`);
      return {};
    },
  };
  const coordination = {
    async readNamespacedLease({ name, namespace }: { name: string; namespace: string }) {
      expect(namespace).toBe("kube-node-lease");
      log.push(`lease ${name}`);
      return { spec: { renewTime: state.leaseRenew } };
    },
  };
  const execs: string[][] = [];
  let failExecs = 0;
  const exec: PodExec = async (node, argv): Promise<ExecResult> => {
    if (failExecs > 0) {
      failExecs--;
      log.push(`exec ${node} failed`);
      throw new Error(`exec ${argv.join(" ")} in ${NS}/${node}: error dialing backend: connection refused`);
    }
    execs.push(argv);
    log.push(`exec ${node} ${argv.join(" ")}`);
    return { exitCode: 0, stdout: "", stderr: "" };
  };
  const dockerCalls: string[][] = [];
  const docker: DockerRun = async (args) => {
    dockerCalls.push(args);
    log.push(`docker ${args.join(" ")}`);
    return "";
  };
  return {
    log,
    state,
    execs,
    dockerCalls,
    failNextExecs: (n: number) => (failExecs = n),
    clients: { core, coordination } as unknown as KubeClients,
    exec,
    docker,
    running,
  };
}

function kubeCluster(s: ReturnType<typeof standIn>): KubeCluster {
  const spec: ClusterSpec = { name: "t", nodes: 3, profile: getProfile("fast"), runDir: join(tmpdir(), "pgchaos-kube-cluster-test"), logger: pino({ level: "silent" }) };
  const runtime = { platform: "kind", nodeContainer: (n: string) => n } as unknown as KubeRuntime;
  return new KubeCluster(spec, "ab12cd34", runtime, s.clients, false, "172.18.0.2", { superuser: "s", replication: "r", rewind: "w" }, TEST_IMAGE, testStack(), s.exec, s.docker);
}

describe("pod kill on Kubernetes", () => {
  it("SIGKILLs every process of the pod before deleting it, and deletes that pod only", async () => {
    const s = standIn();
    const c = kubeCluster(s);
    await c.killNode("pg-1");
    expect(s.log).toEqual(["exec pg-1 sh -c kill -9 -1", "delete pg-1 grace=0 uid=u1"]);
    expect(c.isNodeRunning("pg-1")).toBe(false);
  });

  it("keeps the member down, its replacement held, until startNode releases it", async () => {
    const s = standIn();
    const c = kubeCluster(s);
    await c.killNode("pg-1");
    // The StatefulSet recreated the pod at once; it is held, not running, and nothing released it.
    expect(s.state.pod!.spec!.schedulingGates).toEqual([{ name: HOLD_GATE }]);
    expect(s.state.pod!.status!.phase).toBe("Pending");
    expect(s.log.filter((l) => l.startsWith("patch "))).toEqual([]);
    await c.startNode("pg-1");
    expect(s.log.filter((l) => l.startsWith("patch "))).toEqual([
      `patch pg-1 ${JSON.stringify([
        { op: "test", path: "/spec/schedulingGates", value: [{ name: HOLD_GATE }] },
        { op: "replace", path: "/spec/schedulingGates", value: [] },
      ])}`,
    ]);
    expect(s.state.pod!.status!.phase).toBe("Running");
    expect(s.execs.at(-1)).toEqual(podCommands.patroniRunning());
    expect(c.isNodeRunning("pg-1")).toBe(true);
  });

  it("fails, saying so, when the processes could not be killed, and deletes nothing", async () => {
    const s = standIn();
    const c = kubeCluster(s);
    s.failNextExecs(1);
    await expect(c.killNode("pg-1")).rejects.toThrow(/error dialing backend/);
    expect(s.log.some((l) => l.startsWith("delete"))).toBe(false);
  });
});

describe("a failed node restored", () => {
  it("waits for a kubelet heartbeat and a new container start, not the stale Ready, and retries the first exec", async () => {
    const s = standIn();
    const c = kubeCluster(s);
    await c.failHost("pg-1");
    expect(s.dockerCalls).toEqual([["kill", "--signal", "KILL", "w2"]]);
    // The Node stays Ready and the pod "running" (its state from before the failure): only the Lease and the
    // container's start say when the kubelet is back. It comes back after the third look.
    let looks = 0;
    const core = s.clients.core as unknown as { readNode: (a: { name: string }) => Promise<unknown> };
    const readNode = core.readNode;
    core.readNode = async (a) => {
      if (++looks === 3) {
        s.state.leaseRenew = new Date();
        s.state.pod = s.running("u1", new Date());
        // Its first execs fail while the kubelet settles.
        s.failNextExecs(1);
      }
      return readNode(a);
    };
    await c.restoreHost("pg-1");
    const leases = s.log.filter((l) => l === "lease w2").length;
    expect(leases).toBeGreaterThanOrEqual(3);
    const firstExec = s.log.findIndex((l) => l.startsWith("exec "));
    // No exec before the node was seen back (third look), one failed exec retried, Patroni found running.
    expect(s.log.slice(0, firstExec).filter((l) => l === "lease w2").length).toBe(leases);
    expect(s.log.slice(firstExec)).toEqual(["exec pg-1 failed", `exec pg-1 ${podCommands.patroniRunning().join(" ")}`]);
    expect(c.isNodeRunning("pg-1")).toBe(true);
  }, 20_000);
});

describe("what the faults are on Kubernetes", () => {
  it("is recorded with the run's settings, node failure's differences from a silent power loss included", () => {
    const notes = kubeCluster(standIn()).settings.faultsOnKubernetes as Record<string, string>;
    expect(Object.keys(notes)).toEqual(expect.arrayContaining(["kill", "stop", "drain", "node-failure", "partition"]));
    expect(notes.kill).toMatch(/^SIGKILL of every process in the member's pod .* held \(a scheduling gate\) until heal/);
    expect(notes["node-failure"]).toMatch(/Not silent: .*resets.*Node stays Ready .*40 to 50 s.*keeps Patroni's leader label \(role=primary, role=master under Patroni 3\)/);
  });
});
