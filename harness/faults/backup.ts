import type { ClusterBackups } from "../platform/types.ts";
import type { Fault, FaultContext } from "./types.ts";
import { resolveNow } from "./per-node.ts";
import { toRanges } from "../checkers/ranges.ts";

function backupsOf(ctx: FaultContext): ClusterBackups {
  const b = ctx.cluster.backups;
  if (!b) throw new Error(`the cluster keeps no backups: it was deployed without archiving on the ${ctx.cluster.platform} platform`);
  return b;
}

/** A full backup of the primary to the run's repository; nothing to heal. */
export function backupFault(): Fault {
  return {
    kind: "backup",
    target: "primary",
    resolve: (ctx) => resolveNow(ctx, "primary"),
    async inject(ctx) {
      const taken = await backupsOf(ctx).fullBackup();
      ctx.record?.("backup", { ...taken });
      return { ...taken };
    },
    heal: async () => undefined,
  };
}

/**
 * The whole cluster lost: every member's processes killed and its data directory emptied, and the cluster forgotten
 * by its DCS, as after the loss of a site. The heal is the disaster recovery: the cluster is bootstrapped again from
 * the repository (latest backup and the whole archive), and once it is whole, the repository is restored to a point in
 * time (`pitrBeforeMs` before the disaster, which must lie in WAL the archive got) into a scratch instance beside it, as one does to get back what a bad
 * statement destroyed. The history gets what the checkers need: the disaster, the archive's end, both restores.
 */
export function disasterFault(pitrBeforeMs: number): Fault {
  let injected: { target: number; wall: number; clockOffsetMs: number } | undefined;
  let healed = false;
  return {
    kind: "disaster",
    target: "all",
    resolve: async (ctx) => [...ctx.cluster.nodes],
    async inject(ctx) {
      const b = backupsOf(ctx);
      // Chosen before anything is destroyed: a point the writes of the run passed. PostgreSQL compares it with its commit
      // timestamps (the wall clock), the checker with the writes' times in the history (performance.now()'s clock): the
      // two readings are taken together, and their difference recorded.
      const wall = Date.now();
      const history = performance.timeOrigin + performance.now();
      const target = history - pitrBeforeMs;
      injected = { target, wall: wall - pitrBeforeMs, clockOffsetMs: Math.round((wall - history) * 1000) / 1000 };
      await b.destroyAll();
      // What the repository holds is all that is left: every segment a member had not archived died with it.
      const archiveEnd = await b.archiveEnd();
      ctx.record?.("disaster", { archiveEnd, pitrTarget: target });
      return { archiveEnd, pitrTarget: new Date(target).toISOString() };
    },
    async heal(ctx) {
      // Ctrl-C or a failed inject: teardown removes what is left; a restore would only delay it.
      if (!injected || healed || ctx.signal?.aborted) return;
      healed = true;
      const b = backupsOf(ctx);
      const startedAt = Date.now();
      ctx.record?.("restore", { kind: "latest", phase: "start" });
      await b.restoreLatest();
      const ready = await ctx.cluster.waitReady({ timeoutMs: 300_000, reason: "restore from the repository", signal: ctx.signal });
      ctx.record?.("restore", { kind: "latest", phase: "ready", leader: ready.leader, ms: Date.now() - startedAt });
      ctx.log.info({ leader: ready.leader, ms: Date.now() - startedAt }, "cluster restored from the repository");
      // A point-in-time restore that fails fails its check, with the reason; the restored cluster is still judged.
      try {
        const pitr = await b.restoreToTime(new Date(injected.wall));
        ctx.record?.("restore", { kind: "point-in-time", target: injected.target, clockOffsetMs: injected.clockOffsetMs, ids: toRanges(pitr.ids), ms: pitr.ms });
        ctx.log.info({ target: new Date(injected.target).toISOString(), rows: pitr.ids.length, ms: pitr.ms }, "point-in-time restore read");
      } catch (e) {
        if (ctx.signal?.aborted) throw e;
        const error = e instanceof Error ? e.message : String(e);
        ctx.record?.("restore", { kind: "point-in-time", target: injected.target, clockOffsetMs: injected.clockOffsetMs, error });
        ctx.log.error({ err: error }, "point-in-time restore failed");
      }
    },
  };
}
