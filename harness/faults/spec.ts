import { z } from "zod";
import { killFault, stopFault, switchoverFault } from "./process.ts";
import type { Fault } from "./types.ts";

const target = z.string().min(1).describe('a role ("primary", "replica", "one", ...) or a node name ("n2")');

/** Faults as scenario data; each kind maps to a Fault value. */
export const FaultSpec = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("kill"), target }).strict(),
  z.object({ kind: z.literal("stop"), target }).strict(),
  z.object({ kind: z.literal("switchover"), candidate: z.string().optional() }).strict(),
]);
export type FaultSpec = z.infer<typeof FaultSpec>;

export function createFault(spec: FaultSpec): Fault {
  switch (spec.kind) {
    case "kill":
      return killFault(spec.target);
    case "stop":
      return stopFault(spec.target);
    case "switchover":
      return switchoverFault(spec.candidate);
  }
}

export function describeFault(spec: FaultSpec): string {
  return spec.kind === "switchover" ? `switchover${spec.candidate ? ` to ${spec.candidate}` : ""}` : `${spec.kind} ${spec.target}`;
}
