import type { Exercise } from "../types.ts";
import { fail, faulted, notWhole, pass } from "./common.ts";

export const quickRestart: Exercise = {
  id: "quick-restart",
  title: "A quick restart keeps the leader",
  topic: "The leader key outlives a crash shorter than the ttl",
  start: {},
  text: `A primary that comes back before its leader key expires finds its own name in the key and takes its role back: no replica promotes. Kill the primary and let it restart at once: \`ws kill primary --down 0\`. Compare the outage with the failover of the previous exercise.
$ patronictl list
$ etcdctl get --print-value-only /service/{scope}/leader`,
  hints: ["`--down 0` starts the killed pod again at once; the default waits for longer than the ttl."],
  solution: ["ws kill primary --down 0"],
  firstReason: /has not been killed yet/,
  async verify(ctx) {
    const { baseline: b, snapshot: s } = ctx;
    const kill = faulted(ctx, "kill");
    if (!kill) return fail(`the primary ${b.leader} has not been killed yet: \`ws kill primary --down 0\``);
    if (!kill.healed) return fail(`${kill.nodes[0]} is still down`);
    if (s.leader !== b.leader) return fail(`the leader moved to ${s.leader ?? "nobody"}: ${b.leader} stayed down longer than the ttl (${s.ttl} s). \`ws reset\` and try again with --down 0`);
    const why = notWhole(s);
    if (why) return fail(why);
    const started = (await ctx.patroni(b.leader!))["postmaster_start_time"];
    if (started === b.postmasterStart[b.leader!]) return fail(`${b.leader}'s PostgreSQL has not restarted yet`);
    const f = await ctx.figures();
    return pass(`${b.leader} kept the leader key; writes failed for ${f.writesUnavailableS ?? "?"} s`);
  },
  ranges: (ttl) => ({
    writesUnavailableS: { min: 0, max: ttl, why: `the primary is back within the ttl (${ttl} s): no replica may take the key` },
    lostWrites: { min: 0, max: 0, why: "the same member comes back with its own data" },
  }),
  settleS: 60,
};
