import type { Exercise } from "../types.ts";
import { NO_LOSS, fail, failoverRange, faulted, notWhole, pass, replicaAgain } from "./common.ts";

export const killPrimary: Exercise = {
  id: "kill-primary",
  title: "Kill the primary",
  topic: "Failover as a client sees it: predict the outage, then measure it",
  start: {},
  text: `Predict first. How long will writes through the primary service fail when the primary dies? The leader key's ttl and loop_wait are in the dynamic configuration:
$ patronictl show-config
Say it with \`ws predict SECONDS\`, then kill the primary (SIGKILL of Patroni, PostgreSQL and every backend, like a pod kill): \`ws kill primary\`. Its pod comes back by itself after the ttl and a few seconds, as a StatefulSet would restart it.
On the page, watch the leader key's ttl run out, the replicas race for the key, one promote itself, and the old primary rejoin as a replica on the new timeline:
$ patronictl list
$ patronictl history`,
  hints: [
    "Nobody deletes the dead primary's leader key: the replicas wait for its lease to expire.",
    "The new primary's timeline is one more than the old one: `patronictl history` lists each switch.",
  ],
  solution: ["ws predict 12", "ws kill primary"],
  firstReason: /no prediction yet/,
  async verify(ctx) {
    const { baseline: b, snapshot: s } = ctx;
    if (ctx.prediction === undefined) return fail("no prediction yet: `ws predict SECONDS` before the kill");
    const kill = faulted(ctx, "kill");
    if (!kill) return fail(`the primary ${b.leader} has not been killed yet: \`ws kill primary\``);
    if (s.leader === b.leader) return fail(`${b.leader} still holds the leader key: its lease has not expired yet, or it came back before the ttl and kept it`);
    if (!s.leader) return fail("nobody leads right now: the key expired and the replicas are racing for it");
    const why = replicaAgain(s, kill.nodes[0]!) ?? notWhole(s);
    if (why) return fail(why);
    const f = await ctx.figures();
    return pass(`${b.leader} → ${s.leader}, timeline ${b.timeline} → ${s.timeline}; writes failed for ${f.writesUnavailableS ?? "?"} s, you predicted ${ctx.prediction} s`);
  },
  ranges: (ttl) => ({ writesUnavailableS: failoverRange(ttl), lostWrites: NO_LOSS }),
  settleS: 90,
};
