import type { Exercise } from "../types.ts";
import { NO_LOSS, aReplica, fail, notWhole, pass, replicaAgain } from "./common.ts";

export const switchover: Exercise = {
  id: "switchover",
  title: "A planned switchover with patronictl",
  topic: "Switchover: the leader hands over, nothing is lost",
  start: {},
  text: `A switchover is planned: the leader stops its PostgreSQL cleanly, a caught-up replica promotes, the old leader follows it. Make {target} the leader with patronictl:
$ patronictl list
$ patronictl switchover --help`,
  hints: ["Name the current leader and the candidate, and --force skips the questions."],
  solution: ["patronictl switchover --leader {leader} --candidate {target} --force"],
  firstReason: /still leads/,
  prepare: (s) => ({ target: aReplica(s) }),
  async verify(ctx) {
    const { baseline: b, snapshot: s } = ctx;
    if (s.leader === b.leader) return fail(`${b.leader} still leads: switch over to ${b.target}`);
    if (s.leader !== b.target) return fail(`${s.leader ?? "nobody"} leads, not ${b.target}`);
    const why = replicaAgain(s, b.leader!) ?? notWhole(s);
    if (why) return fail(why);
    const f = await ctx.figures();
    return pass(`${b.leader} → ${s.leader}; writes failed for ${f.writesUnavailableS ?? "?"} s`);
  },
  ranges: (ttl) => ({ writesUnavailableS: { min: 0, max: ttl, why: "a switchover waits for no lease: a few seconds" }, lostWrites: NO_LOSS }),
  settleS: 60,
};

export const restFailover: Exercise = {
  id: "rest-failover",
  title: "A failover through the REST API",
  topic: "The administration API on 8008: /cluster, /failover",
  start: {},
  text: `Every member's REST API takes administration requests, whichever member leads. See the cluster as n1's API serves it:
$ curl -s $PATRONI_URL/cluster
Promote {target} with a POST to /failover whose JSON body names the candidate.`,
  hints: ['The body is {"candidate": "NAME"}; curl sends it with -X POST -d and a content-type header.'],
  solution: [`curl -sf -X POST -H "content-type: application/json" -d '{"candidate": "{target}"}' $PATRONI_URL/failover`],
  firstReason: /still leads/,
  prepare: (s) => ({ target: aReplica(s) }),
  async verify(ctx) {
    const { baseline: b, snapshot: s } = ctx;
    if (s.leader === b.leader) return fail(`${b.leader} still leads: POST /failover naming ${b.target}`);
    if (s.leader !== b.target) return fail(`${s.leader ?? "nobody"} leads, not ${b.target}`);
    const why = replicaAgain(s, b.leader!) ?? notWhole(s);
    if (why) return fail(why);
    return pass(`${b.leader} → ${s.leader}`);
  },
  ranges: (ttl) => ({ writesUnavailableS: { min: 0, max: ttl, why: "a failover to a named, healthy member waits for no lease" }, lostWrites: NO_LOSS }),
  settleS: 60,
};
