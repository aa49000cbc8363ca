import { REST_PORT } from "./config.ts";

/** Patroni REST API client (https://patroni.readthedocs.io/en/latest/rest_api.html). */

export interface PatroniStatus {
  state: string;
  role: string;
  timeline?: number;
  replication?: Array<{ application_name: string; client_addr?: string; state: string; sync_state?: string }>;
  xlog?: { location?: number; received_location?: number; replayed_location?: number };
}

export interface PatroniClusterMember {
  name: string;
  role: string;
  state: string;
  host: string;
  port: number;
  timeline?: number;
  lag?: number | string;
}

async function call(address: string, path: string, init: RequestInit & { timeoutMs?: number } = {}) {
  const url = `http://${address}:${REST_PORT}${path}`;
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 1000) });
  return res;
}

/** GET /patroni: this member's own view (works whatever the HTTP status). */
export async function getStatus(address: string): Promise<PatroniStatus> {
  const res = await call(address, "/patroni");
  return (await res.json()) as PatroniStatus;
}

export async function getCluster(address: string): Promise<PatroniClusterMember[]> {
  const res = await call(address, "/cluster");
  if (!res.ok) throw new Error(`GET /cluster on ${address}: HTTP ${res.status}`);
  const body = (await res.json()) as { members?: PatroniClusterMember[] };
  return body.members ?? [];
}

/** POST /switchover. Patroni 3.0.2 requires the current leader's name. */
export async function postSwitchover(
  address: string,
  body: { leader: string; candidate?: string },
  timeoutMs = 30_000,
): Promise<string> {
  const res = await call(address, "/switchover", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    timeoutMs,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`switchover via ${address} refused: HTTP ${res.status}: ${text.trim()}`);
  return text.trim();
}

/** GET /config: the dynamic configuration as stored in the DCS. */
export async function getConfig(address: string): Promise<Record<string, unknown>> {
  const res = await call(address, "/config");
  if (!res.ok) throw new Error(`GET /config on ${address}: HTTP ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

/** PATCH /config: merges `patch` into the dynamic configuration. */
export async function patchConfig(address: string, patch: Record<string, unknown>): Promise<void> {
  const res = await call(address, "/config", {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(patch),
    timeoutMs: 5000,
  });
  if (!res.ok) throw new Error(`PATCH /config on ${address} refused: HTTP ${res.status}: ${(await res.text()).trim()}`);
}

/** POST /failover: a manual failover to `candidate`, allowed also when the leader is unhealthy. */
export async function postFailover(address: string, body: { candidate: string; leader?: string }, timeoutMs = 30_000): Promise<string> {
  const res = await call(address, "/failover", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    timeoutMs,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`failover to ${body.candidate} via ${address} refused: HTTP ${res.status}: ${text.trim()}`);
  return text.trim();
}
