import type { FinalMember, FinalState } from "./types.ts";

/** The leader member of the final state, or why the final contents cannot be judged. */
export function finalLeader(final: FinalState): { leader: FinalMember & { ids: NonNullable<FinalMember["ids"]> } } | { reason: string } {
  if (final.leader === undefined) return { reason: "no leader in the final state" };
  const leader = final.members.find((m) => m.node === final.leader);
  if (!leader) return { reason: `leader ${final.leader} is not among the final members` };
  if (leader.ids === undefined) {
    return { reason: `leader ${leader.node} could not be read${leader.error ? `: ${leader.error}` : ""}` };
  }
  return { leader: { ...leader, ids: leader.ids } };
}
