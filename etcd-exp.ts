import { createTopology, removeTopology } from "./harness/platform/local/net.ts";
import { runNames, subnet, newRunId } from "./harness/platform/local/names.ts";
import { spawnInNetns, signalAll } from "./harness/platform/local/procs.ts";
import { etcdArgs } from "./harness/stack/patroni/config.ts";
import { mkdirSync, rmSync } from "node:fs";
const [hb, el] = process.argv.slice(2);
for (let k = 0; k < 4; k++) {
  const runId = newRunId(); const sn = subnet("10.213.24" + k); const names = runNames(runId);
  await createTopology(runId, sn, 3);
  const members = [1,2,3].map(i => ({ name: "n"+i, address: sn.nodeAddress(i) }));
  const t0 = performance.now();
  const ps = [1,2,3].map(i => { const d = `/tmp/etcdexp/${runId}/n${i}`; mkdirSync(d, {recursive:true});
    const args = etcdArgs({ name: "n"+i, address: sn.nodeAddress(i), dataDir: d + "/data", cluster: members, token: runId });
    const hi = args.indexOf("--heartbeat-interval"); args[hi+1] = hb!; args[args.indexOf("--election-timeout")+1] = el!;
    return spawnInNetns({ netns: names.netns(i), argv: ["/usr/bin/etcd", ...args], logFile: d + ".log" }); });
  for (;;) { let ok = 0; for (const m of members) { try { const r = await fetch(`http://${m.address}:2379/health`, { signal: AbortSignal.timeout(300) }); const b = await r.json() as any; if (b.health === "true") ok++; } catch {} }
    if (ok === 3) break; await new Promise(r => setTimeout(r, 20)); }
  console.log(hb, el, "quorum after", Math.round(performance.now() - t0));
  signalAll(ps.map(p => p.pid), "SIGKILL"); await Promise.all(ps.map(p => p.exited));
  await removeTopology({ netns: [1,2,3].map(i => names.netns(i)), links: [names.bridge, ...[1,2,3].map(i => names.vethHost(i))], runId });
  rmSync(`/tmp/etcdexp`, { recursive: true, force: true });
}
