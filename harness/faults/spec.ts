import { z } from "zod";
import { killFault, partKillFault, pauseFault, stopFault, switchoverFault } from "./process.ts";
import { latencyFault, linkDownFault, packetLossFault, partitionFault } from "./network.ts";
import { dcsKillFault, dcsLossFault, dcsPauseFault } from "./dcs.ts";
import { drainFault, failoverFault, nodeFailureFault, rollingRestartFault } from "./node.ts";
import { backupFault, disasterFault } from "./backup.ts";
import type { Fault } from "./types.ts";

const target = z.string().min(1).describe('a role ("primary", "replica", "one", "minority", "dcs-leader"...) or a node name ("n2")');

/** Faults as scenario data; each kind maps to a Fault value. */
export const FaultSpec = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("kill"), target }).strict(),
  z.object({ kind: z.literal("stop"), target }).strict(),
  z.object({ kind: z.literal("pause"), target, part: z.enum(["all", "patroni", "postgres"]).default("all") }).strict(),
  z.object({ kind: z.literal("postgres-kill"), target }).strict(),
  z.object({ kind: z.literal("patroni-kill"), target }).strict(),
  z.object({ kind: z.literal("switchover"), candidate: z.string().optional() }).strict(),
  z.object({ kind: z.literal("failover"), target }).strict(),
  z.object({ kind: z.literal("drain"), target }).strict(),
  z.object({ kind: z.literal("node-failure"), target }).strict(),
  z.object({ kind: z.literal("rolling-restart") }).strict(),
  z
    .object({
      kind: z.literal("partition"),
      shape: z.enum(["isolate", "dcs-isolate", "oneway-in", "oneway-out", "majority-minority", "bridge"]),
      target,
    })
    .strict(),
  z.object({ kind: z.literal("link-down"), target }).strict(),
  z.object({ kind: z.literal("packet-loss"), target, probability: z.number().gt(0).lt(1) }).strict(),
  z.object({ kind: z.literal("latency"), target, delayMs: z.number().int().positive(), jitterMs: z.number().int().min(0).default(0) }).strict(),
  z.object({ kind: z.literal("dcs-kill"), target }).strict(),
  z.object({ kind: z.literal("dcs-pause"), target }).strict(),
  z.object({ kind: z.literal("dcs-loss") }).strict(),
  z.object({ kind: z.literal("backup") }).strict(),
  z
    .object({
      kind: z.literal("disaster"),
      /**
       * The point-in-time restore's target: this long before the disaster. After the backup (so a backup covers it), and
       * in WAL the archive got before the disaster: the archive runs up to archive_timeout (5 s) behind the writes.
       */
      pitrBeforeMs: z
        .number()
        .int()
        .min(7000, "the point-in-time target must lie in WAL the archive got before the disaster, which runs up to archive_timeout (5 s) behind the writes: give pitrBeforeMs 7000 or more")
        .default(8000),
    })
    .strict(),
]);
export type FaultSpec = z.infer<typeof FaultSpec>;

export function createFault(spec: FaultSpec): Fault {
  switch (spec.kind) {
    case "kill":
      return killFault(spec.target);
    case "stop":
      return stopFault(spec.target);
    case "pause":
      return pauseFault(spec.target, spec.part);
    case "postgres-kill":
      return partKillFault(spec.target, "postgres");
    case "patroni-kill":
      return partKillFault(spec.target, "patroni");
    case "switchover":
      return switchoverFault(spec.candidate);
    case "failover":
      return failoverFault(spec.target);
    case "drain":
      return drainFault(spec.target);
    case "node-failure":
      return nodeFailureFault(spec.target);
    case "rolling-restart":
      return rollingRestartFault();
    case "partition":
      return partitionFault(spec.shape, spec.target);
    case "link-down":
      return linkDownFault(spec.target);
    case "packet-loss":
      return packetLossFault(spec.target, spec.probability);
    case "latency":
      return latencyFault(spec.target, spec.delayMs, spec.jitterMs);
    case "dcs-kill":
      return dcsKillFault(spec.target);
    case "dcs-pause":
      return dcsPauseFault(spec.target);
    case "dcs-loss":
      return dcsLossFault();
    case "backup":
      return backupFault();
    case "disaster":
      return disasterFault(spec.pitrBeforeMs);
  }
}

export function describeFault(spec: FaultSpec): string {
  switch (spec.kind) {
    case "switchover":
      return `switchover${spec.candidate ? ` to ${spec.candidate}` : ""}`;
    case "rolling-restart":
      return "rolling restart";
    case "dcs-loss":
      return "the whole coordination service lost";
    case "backup":
      return "full backup";
    case "disaster":
      return "disaster: every member's data lost, then restored";
    case "partition":
      return `partition ${spec.shape} ${spec.target}`;
    case "packet-loss":
      return `packet loss ${Math.round(spec.probability * 100)}% on ${spec.target}`;
    case "latency":
      return `latency ${spec.delayMs} ms on ${spec.target}`;
    case "pause":
      return `pause ${spec.part === "all" ? "" : `${spec.part} on `}${spec.target}`;
    default:
      return `${spec.kind} ${spec.target}`;
  }
}
