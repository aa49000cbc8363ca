import type { LeaderKey } from "./types.ts";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/**
 * The leader key as etcd holds it: who holds /service/<scope>/leader and how many seconds its lease has left.
 * Asked of the first member that answers (etcd's JSON gateway, v3 API). undefined when no member answers.
 */
export async function readLeaderKey(etcdUrls: readonly string[], scope: string, timeoutMs = 400): Promise<LeaderKey | undefined> {
  for (const url of etcdUrls) {
    try {
      const post = async (path: string, body: unknown) => {
        const res = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) throw new Error(`${res.status}`);
        return (await res.json()) as Record<string, unknown>;
      };
      const range = (await post("/v3/kv/range", { key: b64(`/service/${scope}/leader`) })) as { kvs?: Array<{ value?: string; lease?: string }> };
      const kv = range.kvs?.[0];
      if (!kv) return {};
      const holder = kv.value ? Buffer.from(kv.value, "base64").toString("utf8") : undefined;
      if (!kv.lease || kv.lease === "0") return { holder };
      const lease = (await post("/v3/lease/timetolive", { ID: kv.lease })) as { TTL?: string; grantedTTL?: string };
      return { holder, ttl: lease.TTL === undefined ? undefined : Number(lease.TTL), grantedTtl: lease.grantedTTL === undefined ? undefined : Number(lease.grantedTTL) };
    } catch {
      // Not this member: the next.
    }
  }
  return undefined;
}

/** Deletes a key (a removed member's registration, so it leaves the member list at once rather than after the ttl). */
export async function deleteKey(etcdUrls: readonly string[], key: string): Promise<void> {
  for (const url of etcdUrls) {
    try {
      const res = await fetch(`${url}/v3/kv/deleterange`, { method: "POST", body: JSON.stringify({ key: b64(key) }), signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // The next member.
    }
  }
  throw new Error(`could not delete ${key}: no etcd member answered`);
}
