import pg from "pg";
import type { Endpoint } from "../../platform/types.ts";
import { BRING_UP } from "./config.ts";

/**
 * Whether the member's PostgreSQL runs with these parameter values (a null value is not checked). Patroni
 * reloads parameters in the same loop in which it takes new loop timings, so this also says the member
 * runs with the DCS configuration that carried them.
 */
export async function settingsInEffect(
  endpoint: Endpoint,
  credentials: { user: string; password: string; database: string },
  params: Record<string, string | null>,
): Promise<true> {
  const client = new pg.Client({ host: endpoint.host, port: endpoint.port, ...credentials, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    for (const [name, value] of Object.entries(params)) {
      const r = await client.query<{ now: string }>("SELECT current_setting($1) AS now", [name]);
      if (value !== null && r.rows[0]!.now !== value) throw new Error(`${name} is ${r.rows[0]!.now}, not yet ${value}`);
    }
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Throws unless the DCS configuration carries the restored loop timings. */
export function assertTimingsRestored(config: Record<string, unknown>, restore: Record<string, unknown>): void {
  for (const k of Object.keys(BRING_UP.dcs)) {
    if (config[k] !== restore[k]) throw new Error(`PATCH /config did not take: ${k} is ${String(config[k])}, wanted ${String(restore[k])}`);
  }
}
