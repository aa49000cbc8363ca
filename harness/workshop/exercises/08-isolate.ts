import type { Exercise } from "../types.ts";
import { fail, faulted, notWhole, pass } from "./common.ts";

export const isolate: Exercise = {
  id: "isolate",
  title: "Isolate the primary, then heal",
  topic: "A network partition: what an isolated primary does, and what the heal costs",
  start: {},
  text: `Cut the primary off from everyone, its peers, etcd and the clients: \`ws isolate primary\`. Its Patroni cannot renew the leader key; it demotes itself when its retry_timeout runs out, and the others elect a new leader after the ttl. Once another member leads, \`ws heal\` and watch the old primary rejoin.
$ patronictl list
Then count: how many writes acknowledged through the primary service during the exercise are missing on the leader now? \`ws figures\` prints what the history says; \`ws answer lost N\`. (Patroni 3.0.2 can take the old leader's key back after the heal: FINDINGS item 1.)`,
  hints: ["`ws wait new-leader` waits for the failover; `ws wait settled` until one leader has held the key for a ttl after the heal.", "`ws figures lostWrites` prints one number."],
  solution: ["ws isolate primary", "ws wait new-leader", "ws heal", "ws wait settled", `ws answer lost "$(ws figures lostWrites)"`],
  firstReason: /not been isolated yet/,
  async verify(ctx) {
    const { baseline: b, snapshot: s } = ctx;
    const cut = faulted(ctx, "partition");
    if (!cut) return fail(`${b.leader} has not been isolated yet: \`ws isolate primary\``);
    if (!cut.healed) return fail(`${cut.nodes[0]} is still cut off: \`ws heal\` once another member leads`);
    if (!s.leader) return fail("nobody leads right now: wait for the leader race after the heal");
    if (ctx.answers.lost === undefined) return fail("how many acknowledged writes were lost? `ws figures`, then `ws answer lost N`");
    const f = await ctx.figures();
    if (f.lostWrites === undefined) return fail(`the leader ${s.leader}'s table cannot be read yet`);
    if (Number(ctx.answers.lost) !== f.lostWrites) return fail(`you answered ${ctx.answers.lost}; the history and the leader's table say ${f.lostWrites}`);
    // Whole or not is what the stack did: after a leader-key retake, members that followed the other primary may not
    // be able to rejoin (their WAL went further on the same timeline). That is the lesson, not a failed exercise.
    const broken = notWhole(s);
    return pass(
      `${b.leader} → ${s.leader === b.leader ? `another member and back to ${b.leader} (it took its key back after the heal)` : s.leader}; ${f.lostWrites} acknowledged writes lost, ${f.splitBrainS ?? 0} s with two writable members${broken ? `; not whole: ${broken} (\`ws reset\` brings a fresh cluster)` : ""}`,
    );
  },
  ranges: () => ({ lostWrites: { min: 0, max: 100_000, why: "measured, not judged: Patroni 3.0.2 may lose the new primary's writes to a leader-key retake" } }),
  settleS: 120,
};
