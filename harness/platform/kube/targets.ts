/**
 * The member list of a kube-native Patroni cluster, read from Kubernetes objects only (no pod network needed):
 * each member's pod (its role label and the `status` annotation Patroni writes into it) and the leader and sync
 * ConfigMaps. The result has the shape the harness uses everywhere (platform/types.ts Member), with the roles
 * Patroni's own GET /cluster gives, so faults/targets.ts resolveTarget works unchanged: "leader" for the holder
 * of a valid leader lock, "sync_standby" for the synchronous standbys, "replica" for the others.
 *
 * Labels: Patroni 4 labels the leader `role=primary` and running replicas `role=replica`; Patroni 3 used
 * `role=master`, and Spilo images put the same values under `spilo-role`. Without the leader ConfigMap, the
 * labels decide who leads.
 */
import type { Member } from "../types.ts";

/** The parts of a V1Pod this reads. */
export interface PodView {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: Date | string };
  spec?: { nodeName?: string };
  status?: { phase?: string; podIP?: string; containerStatuses?: Array<{ ready?: boolean; state?: { running?: unknown; waiting?: unknown; terminated?: unknown } }> };
}

/** Patroni's member data, as it writes it into the pod's `status` annotation. */
export interface PatroniPodStatus {
  state?: string;
  role?: string;
  timeline?: number;
  xlog_location?: number;
  replication_state?: string;
  conn_url?: string;
  api_url?: string;
  /** Patroni's own version. */
  version?: string;
}

/** Patroni's role label as pgchaos, Spilo and Crunchy PGO name it (Patroni's kubernetes.role_label). */
export const ROLE_LABELS = ["role", "spilo-role", "postgres-operator.crunchydata.com/role"] as const;

/** A role label value in the vocabulary of GET /cluster. */
export function normalizeRoleLabel(value: string | undefined): "leader" | "standby_leader" | "replica" | undefined {
  switch (value) {
    case "primary":
    case "master":
      return "leader";
    case "standby-leader":
    case "standby_leader":
      return "standby_leader";
    case "replica":
      return "replica";
    default:
      return undefined;
  }
}

export function roleLabelOf(pod: PodView): string | undefined {
  const labels = pod.metadata?.labels ?? {};
  for (const l of ROLE_LABELS) if (labels[l] !== undefined && labels[l] !== "") return labels[l];
  return undefined;
}

export function parsePodStatus(pod: PodView): PatroniPodStatus | undefined {
  const raw = pod.metadata?.annotations?.status;
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === "object" ? (v as PatroniPodStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** The leader lock from the `<scope>-leader` ConfigMap's annotations; undefined when expired or absent. */
export function lockHolder(leaderAnnotations: Record<string, string> | undefined, now: number): string | undefined {
  const leader = leaderAnnotations?.leader;
  if (!leader) return undefined;
  const renew = Date.parse(leaderAnnotations.renewTime ?? "");
  const ttl = Number(leaderAnnotations.ttl);
  if (!Number.isFinite(renew) || !Number.isFinite(ttl) || ttl <= 0) return leader;
  return renew + ttl * 1000 >= now ? leader : undefined;
}

/** Whether the pod's container runs (a pod being deleted, pending or crashed does not). */
function podState(pod: PodView): "running" | "starting" | "stopping" | "stopped" {
  if (pod.metadata?.deletionTimestamp) return "stopping";
  const phase = pod.status?.phase;
  if (phase === "Pending") return "starting";
  if (phase !== "Running") return "stopped";
  const c = pod.status?.containerStatuses?.[0];
  if (c && !c.state?.running) return c.state?.waiting ? "starting" : "stopped";
  return "running";
}

export interface MemberInput {
  pods: readonly PodView[];
  /** Annotations of `<scope>-leader`; undefined when it could not be read (the labels decide then). */
  leaderAnnotations?: Record<string, string>;
  /** Annotations of `<scope>-sync`. */
  syncAnnotations?: Record<string, string>;
  now: number;
}

const ordinal = (name: string) => Number(/-(\d+)$/.exec(name)?.[1] ?? Number.MAX_SAFE_INTEGER);

/** The member list, in pod ordinal order. */
export function membersFromPods(input: MemberInput): Member[] {
  const pods = input.pods.filter((p) => p.metadata?.name);
  const byLabel = pods.filter((p) => normalizeRoleLabel(roleLabelOf(p)) === "leader").map((p) => p.metadata!.name!);
  const leader = input.leaderAnnotations !== undefined ? lockHolder(input.leaderAnnotations, input.now) : byLabel.length === 1 ? byLabel[0] : undefined;
  const syncLeader = input.syncAnnotations?.leader;
  const sync = new Set(
    syncLeader && syncLeader === leader
      ? (input.syncAnnotations?.sync_standby ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : [],
  );
  const leaderPod = pods.find((p) => p.metadata!.name === leader);
  const leaderStatus = leaderPod ? parsePodStatus(leaderPod) : undefined;
  const optime = Number(input.leaderAnnotations?.optime ?? leaderStatus?.xlog_location);

  return [...pods]
    .sort((a, b) => ordinal(a.metadata!.name!) - ordinal(b.metadata!.name!) || a.metadata!.name!.localeCompare(b.metadata!.name!))
    .map((p): Member => {
      const name = p.metadata!.name!;
      const st = parsePodStatus(p);
      const running = podState(p);
      const labelRole = normalizeRoleLabel(roleLabelOf(p));
      const role =
        name === leader
          ? labelRole === "standby_leader"
            ? "standby_leader"
            : "leader"
          : sync.has(name)
            ? "sync_standby"
            : labelRole === "leader" || labelRole === undefined
              ? st?.role || labelRole
                ? "replica"
                : "unknown"
              : labelRole;
      const state = running === "running" ? (st?.state ?? "starting") : running;
      const lag = role !== "leader" && Number.isFinite(optime) && typeof st?.xlog_location === "number" ? Math.max(0, optime - st.xlog_location) : undefined;
      return {
        name,
        host: p.status?.podIP ?? "",
        role,
        state,
        timeline: typeof st?.timeline === "number" ? st.timeline : undefined,
        lagBytes: lag,
        streaming: role === "leader" ? undefined : streamingOf(running, st),
      };
    });
}

/**
 * Whether a replica streams, by its own status annotation: not when it is not running or says it is a primary;
 * unknown when it runs as a replica under Patroni 3.x, which writes no replication_state (the replica's own account,
 * pg_stat_wal_receiver, then decides).
 */
function streamingOf(running: string, st: { state?: string; role?: string; replication_state?: string } | undefined): boolean | undefined {
  if (running !== "running" || st?.state !== "running" || st.role === "master" || st.role === "primary") return false;
  return st.replication_state === undefined ? undefined : st.replication_state === "streaming";
}

/**
 * Pods that carry the leader label. More than one, or one that is not the lock holder, means the leader
 * Service routes to a member that is not the leader (a partitioned old primary cannot remove its own label):
 * the platform logs it, and the split-brain probes show whether it took writes.
 */
export function primaryLabelled(pods: readonly PodView[]): string[] {
  return pods.filter((p) => normalizeRoleLabel(roleLabelOf(p)) === "leader").map((p) => p.metadata?.name ?? "");
}
