import type { Cluster } from "../platform/types.ts";
import { waitFor } from "../util/wait.ts";
import { Session } from "./session.ts";

/** The probe tables, created through the primary service before probes start. */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS pgchaos_writes (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS pgchaos_node_probe (node text NOT NULL, seq bigint NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (node, seq));
`;

/** The timeline the serving primary is writing on, from the WAL file name of its current insert position. */
export const TIMELINE_SQL = `('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int`;

export const INSERT_WRITE_SQL = `INSERT INTO pgchaos_writes (id) VALUES ($1) RETURNING host(inet_server_addr()) AS addr, ${TIMELINE_SQL} AS timeline`;

export const INSERT_NODE_PROBE_SQL = `INSERT INTO pgchaos_node_probe (node, seq) VALUES ($1, $2) RETURNING ${TIMELINE_SQL} AS timeline`;

/** Creates the probe tables through the primary service, retrying until it accepts writes (15 s at most). */
export async function createProbeTables(cluster: Pick<Cluster, "primaryService" | "credentials">, signal?: AbortSignal): Promise<void> {
  const where = `${cluster.primaryService.host}:${cluster.primaryService.port}`;
  await waitFor({ condition: "the primary service to accept writes", where, timeoutMs: 15_000, intervalMs: 200, signal }, async () => {
    const s = new Session({ endpoint: cluster.primaryService, credentials: cluster.credentials, connectTimeoutMs: 1000, queryTimeoutMs: 5000, applicationName: "pgchaos-setup" });
    try {
      await s.connect();
      await s.query(SCHEMA_SQL, []);
      return true;
    } finally {
      s.drop();
    }
  });
}
