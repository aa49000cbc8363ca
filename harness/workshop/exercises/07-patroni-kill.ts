import type { Exercise } from "../types.ts";
import { fail, faulted, notWhole, pass, replicaAgain } from "./common.ts";

const text = (sync: boolean) => `${
  sync
    ? "The same fault with synchronous_mode on: the primary acknowledges a commit only once its synchronous standby has it, and only that standby may promote."
    : "The caution of the workshop: Patroni can die while PostgreSQL lives on."
} Kill Patroni alone on the primary: \`ws kill-patroni primary\`. Nobody renews the leader key; after the ttl a replica takes it and promotes. The old PostgreSQL still runs${
  sync ? ": can it still acknowledge writes to a client beside it?" : " and accepts writes from a client beside it: two primaries."
} Watch the probes on the page, then, once another member leads, start the old Patroni again with \`ws start {leader}\`: it demotes its PostgreSQL.
$ patronictl list
$ patronictl show-config`;

function make(sync: boolean): Exercise {
  return {
    id: sync ? "patroni-kill-sync" : "patroni-kill",
    title: sync ? "Patroni dies again, with synchronous mode" : "Patroni dies, PostgreSQL does not",
    topic: sync ? "Synchronous mode shrinks the split-brain window" : "Split-brain: two members accept writes",
    start: sync ? { sync: true } : {},
    text: text(sync),
    hints: ["`ws wait new-leader` waits until another member holds the leader key.", "The new primary's probe and the old primary's probe are both green in the split-brain window."],
    solution: ["ws kill-patroni primary", "ws wait new-leader", "ws start {leader}"],
    firstReason: /Patroni still runs on/,
    async verify(ctx) {
      const { baseline: b, snapshot: s } = ctx;
      if (!faulted(ctx, "patroni-kill")) return fail(`Patroni still runs on the primary ${b.leader}: \`ws kill-patroni primary\``);
      if (s.leader === b.leader || !s.leader) return fail(`no other member leads yet: the key of ${b.leader} has not expired`);
      const why = replicaAgain(s, b.leader!) ?? notWhole(s);
      if (why) return fail(why);
      const f = await ctx.figures();
      return pass(`${b.leader} → ${s.leader}; two members accepted writes for ${f.splitBrainS ?? 0} s, ${f.lostDirectWrites ?? 0} of the old primary's direct writes lost`);
    },
    ranges: (ttl) => ({
      splitBrainS: sync
        ? {
            min: 0,
            max: 2,
            why: "synchronous mode shrinks the window from about the ttl to under a second (0 s and 0.67 s measured here, FINDINGS item 9: under 0.1 s), it does not close it; more than 2 s means it did not work",
          }
        : { min: 0.05, max: ttl * 3 + 10, why: "without synchronous mode the old primary accepts writes until its Patroni is back and demotes it" },
    }),
    settleS: 90,
  };
}

export const patroniKill = make(false);
export const patroniKillSync = make(true);
