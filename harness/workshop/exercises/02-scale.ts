import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Exercise } from "../types.ts";
import { fail, notWhole, pass } from "./common.ts";

/** Set by the workshop: where the member folders are. */
export const scaleFiles = { workDir: "" };

export const scale: Exercise = {
  id: "scale",
  title: "From two members to three",
  topic: "Scale a cluster by writing a member's configuration",
  start: { members: 2 },
  text: `This cluster runs two members, n1 and n2. n3's machine is ready (its etcd member runs) but it has no Patroni configuration and no data. A member is its configuration: write n3's, start it, and watch it clone itself from the leader.
Each member's patroni.yml is in its folder:
$ ls -l $WS_DIR/n2
$ grep -n -e "^name:" -e "listen:" -e "connect_address:" -e "_dir:" $WS_DIR/n2/patroni.yml
$ ws addr n3
Copy n2's file to $WS_DIR/n3/patroni.yml, changing what makes it n2: its name, its addresses (listen and connect_address) and its folders. It holds passwords: owned by postgres, mode 600. Then \`ws start n3\`.`,
  hints: [
    "sed can do the three changes at once: the name line, the address on the listen and connect_address lines, and /n2/ in the folders.",
    "`install -o postgres -g postgres -m 600 /dev/stdin FILE` writes what it reads with the right owner and mode.",
  ],
  solution: [
    `sed -e "s/^name: n2$/name: n3/" -e "/listen:\\|connect_address:/s/$(ws addr n2)/$(ws addr n3)/" -e "s#/n2/#/n3/#g" $WS_DIR/n2/patroni.yml | install -o postgres -g postgres -m 600 /dev/stdin $WS_DIR/n3/patroni.yml`,
    "ws start n3",
  ],
  firstReason: /n3 has no patroni\.yml/,
  async verify(ctx) {
    const file = join(scaleFiles.workDir, "n3", "patroni.yml");
    if (!existsSync(file)) return fail(`n3 has no patroni.yml yet (${file})`);
    let cfg: { name?: unknown; restapi?: { listen?: unknown }; postgresql?: { data_dir?: unknown } };
    try {
      cfg = parseYaml(readFileSync(file, "utf8")) ?? {};
    } catch (e) {
      return fail(`n3's patroni.yml is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
    }
    const n3 = ctx.snapshot.members.find((m) => m.name === "n3")!;
    if (cfg.name !== "n3") return fail(`n3's patroni.yml says name: ${String(cfg.name)}; two members with one name would fight over one member key`);
    if (!String(cfg.restapi?.listen).startsWith(`${n3.address}:`)) return fail(`n3's REST API would listen on ${String(cfg.restapi?.listen)}, not on n3's address ${n3.address}`);
    if (!String(cfg.postgresql?.data_dir).includes("/n3/")) return fail(`n3's data_dir ${String(cfg.postgresql?.data_dir)} is another member's folder`);
    if (!n3.patroniUp) return fail("n3's configuration is there but its Patroni is not running: `ws start n3`");
    if (n3.role === "down") return fail("n3's Patroni runs but is not a member yet: `ws log n3` shows what it does");
    const why = notWhole(ctx.snapshot);
    if (why) return fail(why);
    return pass(`n3 streams from ${ctx.snapshot.leader}`);
  },
  settleS: 60,
};
