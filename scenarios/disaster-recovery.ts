import { defineScenario } from "../harness/scenario/types.ts";

export default defineScenario({
  name: "disaster-recovery",
  description:
    "Every member archives its WAL to a pgBackRest repository of the run (archive_timeout 5 s); a full backup of the primary is taken while writes go on. Then every member's processes are killed and its data directory emptied, and the cluster is forgotten by etcd, as when a site is lost. Recovery: Patroni's custom bootstrap restores the latest backup and replays the whole archive on one member, the others clone it, and writes resume; then the repository is restored to a point in time 4 s before the disaster into a scratch instance beside the cluster. Checked: the recovery point (acknowledged writes the restore lost, against the archive's last segment), the restore time, and that the point-in-time restore holds exactly the writes acknowledged by its target.",
  schedule: [
    // Writes go on for 8 s after the backup, so the point-in-time target (4 s before the disaster) lies after it.
    { fault: { kind: "backup" }, afterMs: 8000 },
    { fault: { kind: "disaster", pitrBeforeMs: 4000 }, holdMs: 2000 },
  ],
  recoveryTimeoutMs: 120_000,
  expect: {
    // Archiving by segment loses what the last, unfinished segment held: up to archive_timeout (5 s) plus one
    // archive-push; measured here 2.9 to 3.9 s (median 3.4 s, 5 runs, reports/FINDINGS.md finding 12). The bound is
    // generous: it catches archiving that stopped, not noise.
    maxRecoveryPointMs: 15_000,
    lostWrites: 0,
    divergence: false,
  },
});
