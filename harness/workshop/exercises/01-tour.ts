import type { Exercise } from "../types.ts";
import { fail, pass } from "./common.ts";

export const tour: Exercise = {
  id: "tour",
  title: "A tour of a member",
  topic: "What runs on a member: etcd, Patroni and PostgreSQL; the leader key and its ttl; the REST API on 8008",
  start: {},
  text: `Every member runs three programs: an etcd member (the DCS), Patroni (the agent) and PostgreSQL (which Patroni starts and stops). This shell is inside n1's network namespace. The processes of n1:
$ pgrep -a -f "$WS_DIR/n1/"
The cluster as Patroni sees it: members, roles, timelines, lag:
$ patronictl list
Whoever holds the leader key in etcd is the primary. The leader renews its lease every loop_wait; if it stops, the key expires after the ttl and the replicas race for it:
$ etcdctl get --print-value-only /service/{scope}/leader
$ patronictl show-config
Patroni's REST API on port 8008: haproxy asks /primary of each member to route the primary service (200 on the primary, 503 elsewhere):
$ curl -s $PATRONI_URL/patroni
$ curl -s -o /dev/null -w "%{http_code}\\n" $PATRONI_URL/primary
Answer two questions: who holds the leader key, and what is the ttl in seconds? \`ws answer leader NAME\` and \`ws answer ttl SECONDS\`.`,
  hints: [
    "The leader key's value is the leader's name: the etcdctl command above prints it.",
    "patronictl show-config prints the dynamic configuration; ttl is one of its first lines.",
  ],
  solution: [`ws answer leader "$(etcdctl get --print-value-only /service/{scope}/leader)"`, `ws answer ttl "$(patronictl show-config | sed -n 's/^ttl: //p')"`],
  firstReason: /no answer for the leader yet/,
  async verify(ctx) {
    const { leader, ttl } = ctx.answers;
    if (leader === undefined) return fail("no answer for the leader yet: `ws answer leader NAME`");
    if (leader !== ctx.snapshot.leader) return fail(`${leader} is not the leader: the leader key in etcd names ${ctx.snapshot.leader ? "another member" : "nobody right now"}`);
    if (ttl === undefined) return fail("no answer for the ttl yet: `ws answer ttl SECONDS`");
    if (Number(ttl) !== ctx.snapshot.ttl) return fail(`the ttl is not ${ttl}: \`patronictl show-config\` prints it`);
    return pass(`${leader} leads; its key expires ${ctx.snapshot.ttl} s after its last renewal`);
  },
  settleS: 5,
};
