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
