import type { Exercise } from "../types.ts";
import { fail, notWhole, pass } from "./common.ts";

export const settings: Exercise = {
  id: "settings",
  title: "Settings through patronictl edit-config",
  topic: "Dynamic configuration: a reload setting, a restart setting and pending_restart",
  start: {},
  text: `PostgreSQL settings of the whole cluster live in etcd; Patroni applies them on every member. Some take effect on a reload, some only after a restart, which Patroni then reports as pending.
$ patronictl show-config
$ psql -Atc "SHOW max_connections"
Set log_min_duration_statement to 250 (ms; a reload is enough) and max_connections to 60 (a restart is needed) with \`patronictl edit-config\`. Watch the "Pending restart" column of patronictl list, then restart the members that need it with \`patronictl restart\`.`,
  hints: [
    "`patronictl edit-config --force -p NAME=VALUE` sets one parameter without an editor.",
    "`patronictl restart {scope} --pending --force` restarts exactly the members that wait for it.",
  ],
  solution: [
    "patronictl edit-config --force -p log_min_duration_statement=250 -p max_connections=60",
    `until patronictl list -f json | grep -q '"Pending restart"'; do sleep 0.5; done`,
    "patronictl restart {scope} --pending --force",
  ],
  firstReason: /log_min_duration_statement is .* on n\d/,
  async verify(ctx) {
    const s = ctx.snapshot;
    const running = s.members.filter((m) => m.postgresUp && m.role !== "down");
    for (const m of running) {
      const [row] = await ctx.sql<{ v: string }>(m.name, "SELECT current_setting('log_min_duration_statement') AS v");
      if (row?.v !== "250ms") return fail(`log_min_duration_statement is ${row?.v} on ${m.name}, not 250ms`);
    }
    for (const m of running) {
      const [row] = await ctx.sql<{ v: string; pending: boolean }>(m.name, "SELECT setting AS v, pending_restart AS pending FROM pg_settings WHERE name = 'max_connections'");
      if (row?.pending || m.pendingRestart) return fail(`max_connections waits for a restart on ${m.name}: patronictl list shows it pending`);
      if (row?.v !== "60") return fail(`max_connections is ${row?.v} on ${m.name}, not 60`);
    }
    const why = notWhole(s);
    if (why) return fail(why);
    return pass("log_min_duration_statement 250ms and max_connections 60 on every member, nothing pending");
  },
  settleS: 60,
};

export const hba: Exercise = {
  id: "hba",
  title: "pg_hba through patronictl, without locking anyone out",
  topic: "Access rules: Patroni writes pg_hba.conf on every member from the dynamic configuration",
  start: {},
  text: `pg_hba.conf is written by Patroni from postgresql.pg_hba, here kept in etcd, so every member has the same. Refuse the user mallory from everywhere, and lock out nobody else: the write probe (user postgres, from the bridge) must keep writing.
$ patronictl show-config
$ psql -Atc "SELECT line_number, type, user_name, address, auth_method FROM pg_hba_file_rules"
Rules are read from the top: the first line that matches decides. Change the list with \`patronictl edit-config\` (it opens an editor; -s postgresql.pg_hba=[...] sets it in one line).`,
  hints: [
    "A reject line for mallory must come before the line that lets everyone in with a password.",
    "`host all all 0.0.0.0/0 reject` would refuse the probe too: the page's writes turn red at once.",
  ],
  solution: [
    `patronictl edit-config --force -s "postgresql.pg_hba=$(patronictl show-config | /usr/bin/python3 -c 'import json, sys, yaml; print(json.dumps(["host all mallory 0.0.0.0/0 reject"] + yaml.safe_load(sys.stdin)["postgresql"]["pg_hba"]))')"`,
  ],
  firstReason: /mallory can still connect/,
  async verify(ctx) {
    const s = ctx.snapshot;
    const w = s.writes;
    if (w.lastFailAt !== undefined && (w.lastOkAt === undefined || w.lastFailAt > w.lastOkAt)) {
      return fail("the write probe is refused now: a rule of yours matches user postgres from the bridge too");
    }
    for (const m of s.members.filter((x) => x.postgresUp && x.role !== "down")) {
      const rows = await ctx.sql<{ line: number; type: string; users: string; auth: string; error: string | null }>(
        m.name,
        "SELECT line_number AS line, type, array_to_string(user_name, ',') AS users, auth_method AS auth, error FROM pg_hba_file_rules ORDER BY line_number",
      );
      const bad = rows.find((r) => r.error);
      if (bad) return fail(`line ${bad.line} of ${m.name}'s pg_hba.conf is wrong: ${bad.error}`);
      const first = rows.find((r) => r.type === "host" && (r.users === "mallory" || r.users === "all"));
      if (!first || first.users !== "mallory" || first.auth !== "reject") {
        return fail(`mallory can still connect to ${m.name}: the first host line matching mallory is ${first ? `line ${first.line} (${first.users}, ${first.auth})` : "none"}`);
      }
    }
    return pass("mallory is refused on every member, and the probe writes on");
  },
  settleS: 30,
};
