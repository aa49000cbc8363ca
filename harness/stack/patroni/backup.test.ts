import { describe, expect, it } from "vitest";
import { archiveParameters, parseInfo, pgbackrestConf, restoreBootstrap, targetTime } from "./backup.ts";

// The shape `pgbackrest info --output=json` (2.45) printed for a stanza with one full backup, trimmed.
const INFO = JSON.stringify([
  {
    name: "pgchaos",
    archive: [{ database: { id: 1, "repo-key": 1 }, id: "15-1", max: "000000010000000000000005", min: "000000010000000000000001" }],
    backup: [
      {
        archive: { start: "000000010000000000000002", stop: "000000010000000000000002" },
        info: { delta: 22992578, repository: { delta: 4522373, size: 4522373 }, size: 22992578 },
        label: "20261130-164641F",
        lsn: { start: "0/2000028", stop: "0/2000100" },
        timestamp: { start: 1796057201, stop: 1796057203 },
        type: "full",
      },
    ],
    status: { code: 0, message: "ok" },
  },
]);

describe("pgBackRest beside Patroni", () => {
  it("reads the archive's last segment and the backups from `pgbackrest info`", () => {
    expect(parseInfo(INFO)).toEqual({
      archiveMax: "000000010000000000000005",
      backups: [{ label: "20261130-164641F", type: "full", startLsn: "0/2000028", stopLsn: "0/2000100", sizeBytes: 22992578, repoBytes: 4522373, startedAt: 1796057201000, stoppedAt: 1796057203000 }],
    });
    // A stanza made but never archived to.
    expect(parseInfo(JSON.stringify([{ name: "pgchaos", archive: [{ max: null }], backup: [] }]))).toEqual({ archiveMax: undefined, backups: [] });
    expect(() => parseInfo("[]")).toThrow(/no stanza pgchaos/);
  });

  it("names the member's data directory and socket, and the run's repository, in each configuration", () => {
    const conf = pgbackrestConf({ repo: "/w/pgbackrest/repo", lock: "/w/pgbackrest/lock", logDir: "/w/n1/log", spoolDir: "/w/n1/run", dataDir: "/w/n1/data", socketDir: "/w/n1/run", port: 5432 });
    expect(conf).toMatch(/^\[global\]\nrepo1-path=\/w\/pgbackrest\/repo\n/);
    expect(conf).toContain("\n[pgchaos]\npg1-path=/w/n1/data\npg1-socket-path=/w/n1/run\npg1-port=5432\n");
    expect(archiveParameters("/w/n1/pgbackrest.conf")).toEqual({
      archive_mode: "on",
      archive_command: "/usr/bin/pgbackrest --config=/w/n1/pgbackrest.conf --stanza=pgchaos archive-push %p",
      archive_timeout: "5s",
    });
    expect(restoreBootstrap("/w/n1/pgbackrest.conf")).toMatchObject({ method: "pgbackrest", pgbackrest: { no_params: true, keep_existing_recovery_conf: true } });
  });

  it("writes a recovery target as pgBackRest and PostgreSQL both read it: UTC, to the millisecond", () => {
    expect(targetTime(new Date(Date.UTC(2026, 10, 30, 16, 46, 46, 146)))).toBe("2026-11-30 16:46:46.146+00");
  });
});
