/**
 * `--attach`: a scenario run against a PostgreSQL cluster an operator already runs (the Zalando operator's Spilo,
 * Crunchy PGO), behind the harness's Cluster interface, so that the same probes, faults and checkers run on it.
 * attach.ts decides what the cluster is and what a run may do to it; this carries it out:
 *
 * - members and roles from the operator's labels and Patroni's own record (the pods' `status` annotations, the
 *   leader lock), read through the API; nothing is applied;
 * - the harness reaches PostgreSQL by port-forward (forward.ts): the primary's listener asks at each connection which
 *   pod the operator's primary Service routes to (its selector, or the Endpoints Patroni writes), each member's goes
 *   to its pod;
 * - writes go into a schema of the run's own (attachPlan), with the credentials of the operator's Secret; the schema
 *   is on the sessions' search path (libpq `options`), and is dropped at teardown, RESTRICT;
 * - faults are signals to the processes of a member's database container and Patroni's REST API there, by exec
 *   (capabilities.ts ATTACH_CAPABILITIES); what restarts a killed process is the operator's image;
 * - every action is checked against the plan first (assertAttachAllows): nothing of the operator's is deleted,
 *   evicted, patched or scaled.
 *
 * CloudNativePG runs no Patroni: there the roles, states and timelines are the operator's own record (the Cluster's
 * status: currentPrimary, targetPrimary, instancesReportedState), a member is back when its pod is Ready and its
 * PostgreSQL answers, and what only Patroni offers (patroni-kill) or what would change the operator's objects
 * (switchover, failover: the Cluster's status.targetPrimary) is refused before the run (attach.ts OPERATORS.cnpg.refuses).
 */
import { randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { AbortError } from "p-retry";
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Cluster, ClusterSpec, DbCredentials, Endpoint, Member } from "../types.ts";
import { parseLsn } from "../../checkers/restore.ts";
import type { AgentApi, StackInfo } from "../../stack/types.ts";
import { PatroniHaStack } from "../../stack/patroni/stack.ts";
import { defaultStack, listStacks, type PatroniVersion } from "../../stack/patroni/versions.ts";
import { PG_PORT, REST_PORT } from "../../stack/patroni/config.ts";
import { assertReplicasStreaming, assertServiceReaches, oneRunningLeader } from "../ready.ts";
import { streamingByOwnAccount } from "../../stack/postgres/walreceiver.ts";
import { waitFor } from "../../util/wait.ts";
import { EnvironmentError, errorMessage } from "../../util/errors.ts";
import { isLoopback, LocalForwarder, LOOPBACK, type PodForward } from "../forward.ts";
import { apiMessage, execInPod, statusOf, type ExecResult, type KubeClients } from "./client.ts";
import { attachPlan, assertAttachAllows, credentialsFromSecret, podsBehindService, podState, type AttachAction, type AttachPlan, type Operator } from "./attach.ts";
import { describeDiscovery, discoverAttached, patroniLock, readCnpgCluster, type AttachDiscovery } from "./attach-discover.ts";
import { attachFaultSemantics } from "./capabilities.ts";
import { parseRestOutput } from "./pod-ops.ts";
import { membersFromPods, parsePodStatus } from "./targets.ts";
import { copyPodLogs, spawnProbeHere } from "./pod-logs.ts";

/**
 * Signals the processes of the container (those of the exec's own cgroup) by name, with nothing but a POSIX shell and
 * /proc (an operator's image has no pgchaos-ctl, and may have no procps): `$1` the signal, then the names. Patroni started as `python3 .../patroni`
 * is named by its command line. Prints how many were signalled.
 */
export const SIGNAL_BY_NAME = [
  'sig=$1; shift; n=0; me=$(cat /proc/$$/cgroup)',
  'for d in /proc/[0-9]*; do',
  '  pid=${d#/proc/}; [ "$pid" = "$$" ] && continue',
  // Only this container's (a process namespace shared between a pod's containers shows the sidecars' too).
  '  [ "$(cat "$d/cgroup" 2>/dev/null)" = "$me" ] || continue',
  '  c=$(cat "$d/comm" 2>/dev/null) || continue',
  '  case $c in python*) case "$(tr "\\000" " " <"$d/cmdline" 2>/dev/null)" in */patroni|*/patroni\\ *) c=patroni;; esac;; esac',
  '  for want in "$@"; do if [ "$c" = "$want" ] && kill "-$sig" "$pid" 2>/dev/null; then n=$((n+1)); fi; done',
  "done",
  'echo "$n"',
].join("\n");

/**
 * SIGKILL of every process of the container the exec runs in (its cgroup is the exec's own), but PID 1 and the
 * script: with a process namespace shared between a pod's containers (PGO), `kill -9 -1` would take the sidecars
 * too. Prints how many were killed.
 */
export const KILL_CONTAINER = [
  'me=$(cat /proc/$$/cgroup); n=0',
  'for d in /proc/[0-9]*; do',
  '  pid=${d#/proc/}',
  '  if [ "$pid" = "$$" ] || [ "$pid" = 1 ]; then continue; fi',
  '  [ "$(cat "$d/cgroup" 2>/dev/null)" = "$me" ] || continue',
  '  if kill -9 "$pid" 2>/dev/null; then n=$((n+1)); fi',
  "done",
  'echo "$n"',
].join("\n");

/**
 * Patroni's REST API on the member's own loopback, by python3 (every Patroni image has it): argv scheme, method, path
 * and body. The scheme is the one Patroni advertises (its api_url); over TLS the certificate is not verified (it names
 * the pod, not 127.0.0.1). Prints the status, then the body.
 */
export const PATRONI_REST_PY = [
  "import sys, ssl, urllib.request, urllib.error",
  "scheme, m, p = sys.argv[1], sys.argv[2], sys.argv[3]",
  "body = sys.argv[4].encode() if len(sys.argv) > 4 else None",
  "ctx = ssl._create_unverified_context() if scheme == 'https' else None",
  `req = urllib.request.Request(scheme + '://127.0.0.1:${REST_PORT}' + p, data=body, method=m, headers={'Content-Type': 'application/json'})`,
  "try:",
  "    with urllib.request.urlopen(req, timeout=30, context=ctx) as r:",
  "        print(r.status); print(r.read().decode())",
  "except urllib.error.HTTPError as e:",
  "    print(e.code); print(e.read().decode())",
  "except Exception as e:",
  `    print(scheme + '://127.0.0.1:${REST_PORT}' + p + ': ' + str(e), file=sys.stderr); sys.exit(1)`,
].join("\n");

/** What runs the attached cluster's failover, as read at attach. */
type HaRead =
  | { kind: "patroni"; version?: string; scheme: "http" | "https"; dynamic: Record<string, unknown> }
  | { kind: "cnpg"; version?: string; spec: Record<string, unknown> };

/** The parts of a CloudNativePG Cluster (postgresql.cnpg.io/v1) a run reads. */
interface CnpgCluster {
  spec?: Record<string, unknown>;
  status?: {
    currentPrimary?: string;
    targetPrimary?: string;
    phase?: string;
    instancesReportedState?: Record<string, { isPrimary?: boolean; timeLineID?: number }>;
  };
}

/** CloudNativePG's settings that decide a failover, as the Cluster's spec has them (the run's settings). */
const CNPG_SETTINGS = ["instances", "failoverDelay", "switchoverDelay", "livenessProbeTimeout", "minSyncReplicas", "maxSyncReplicas", "primaryUpdateStrategy", "primaryUpdateMethod", "smartShutdownTimeout", "stopDelay"];

/**
 * Members as CloudNativePG records them. The leader is the Cluster's status.currentPrimary while no switchover or
 * failover is under way (targetPrimary the same), and any member whose instance manager last reported it primary: two
 * while an old primary has not been seen demoted. A member runs once its pod is Ready (attach.ts podState). No
 * timeline: the instance manager reports a replica's from its last restartpoint (pg_control_checkpoint), stale for
 * minutes after a failover; each member's own account gives it (cnpgOwnAccount), or nothing does.
 */
export function cnpgMembers(pods: readonly V1Pod[], cluster: CnpgCluster): Member[] {
  const st = cluster.status ?? {};
  const reported = st.instancesReportedState ?? {};
  return pods
    .filter((p) => p.metadata?.name)
    .map((p) => {
      const name = p.metadata!.name!;
      const settled = st.currentPrimary === name && (st.targetPrimary ?? name) === name;
      return { name, host: p.status?.podIP ?? "", role: settled || reported[name]?.isPrimary ? "leader" : "replica", state: podState(p) };
    });
}

/** Where CloudNativePG's PostgreSQL has its socket (the instance manager's run folder). */
const CNPG_SOCKET_DIR = "/controller/run";

/**
 * Whether the member is a primary; its timeline (the current WAL file's on a primary, the streaming WAL receiver's on a
 * replica, none when it does not stream); and its WAL position (a primary's current one, a replica's furthest received
 * or replayed, as Patroni counts a member's position for its lag).
 */
export const CNPG_OWN_ACCOUNT_SQL =
  "SELECT NOT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN (SELECT received_tli FROM pg_stat_wal_receiver WHERE status = 'streaming') " +
  "ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END, " +
  "CASE WHEN pg_is_in_recovery() THEN GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) ELSE pg_current_wal_lsn() END";

export interface CnpgOwnAccount {
  primary: boolean;
  timeline?: number;
  /** The WAL position, in bytes. */
  lsn?: bigint;
}

/**
 * A CloudNativePG member's own account by `exec` (psql on its local socket as the container's user); throws, saying
 * what psql said, when it cannot be read.
 */
export async function cnpgOwnAccountOf(exec: (argv: string[], timeoutMs: number) => Promise<ExecResult>): Promise<CnpgOwnAccount> {
  const r = await exec(["psql", "-X", "-h", CNPG_SOCKET_DIR, "-U", "postgres", "-d", "postgres", "-At", "-F", " ", "-c", CNPG_OWN_ACCOUNT_SQL], 15_000);
  const own = r.exitCode === 0 ? parseCnpgOwnAccount(r.stdout) : undefined;
  if (!own) throw new Error(`psql on ${CNPG_SOCKET_DIR} as postgres: ${r.exitCode === 0 ? `unexpected output "${r.stdout.trim()}"` : `exit ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`}`);
  return own;
}

/** psql's line for CNPG_OWN_ACCOUNT_SQL ("t 2 0/3000060", "f 2 0/3000060", "f  0/3000060", "f"), or undefined when it is not one. */
export function parseCnpgOwnAccount(out: string): CnpgOwnAccount | undefined {
  const m = /^([tf])(?: (\d*)(?: ([0-9A-Fa-f]+\/[0-9A-Fa-f]+))?)?$/.exec(out.replace(/\n+$/, "").trimEnd());
  if (!m) return undefined;
  return { primary: m[1] === "t", ...(m[2] ? { timeline: Number(m[2]) } : {}), ...(m[3] ? { lsn: parseLsn(m[3]) } : {}) };
}

/**
 * Each replica's lag in bytes behind the primary, from their own accounts, read at about the same moment (a replica read
 * after the primary may be ahead of the position read there, which counts as no lag). The primary is the one member
 * that answered as one; with none or two (a failover under way), and for a member whose position is unknown, no lag.
 */
export function cnpgLags(members: Member[], accounts: ReadonlyMap<string, CnpgOwnAccount>): void {
  const primaries = [...accounts].filter(([, a]) => a.primary);
  const at = primaries.length === 1 ? primaries[0]![1].lsn : undefined;
  if (at === undefined) return;
  for (const m of members) {
    const own = accounts.get(m.name);
    if (!own || own.primary || own.lsn === undefined) continue;
    m.lagBytes = at > own.lsn ? Number(at - own.lsn) : 0;
  }
}

/**
 * The lag bound an attached Patroni runs with: its configuration's maximum_lag_on_failover, or Patroni's default (1 MiB,
 * `get_int('maximum_lag_on_failover', 1048576)`) where it has none or not a number.
 */
export function patroniLagBound(v: unknown): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : 1048576;
}

/** The known Patroni rules nearest below `version` (switchover and failover bodies differ by version). */
export function rulesFor(version: string | undefined): PatroniVersion {
  const key = (v: string) => v.split(".").map((x) => Number(x) || 0).reduce((a, x) => a * 1000 + x, 0);
  if (!version) return defaultStack();
  const known = listStacks().sort((a, b) => key(a.version) - key(b.version));
  return [...known].reverse().find((s) => key(s.version) <= key(version)) ?? known[0]!;
}

export interface AttachOptions {
  namespace: string;
  target: { selector: string } | { cluster: string };
  operator?: Operator;
}

type MemberExec = (pod: string, argv: string[], timeoutMs?: number) => Promise<ExecResult>;

export interface AttachDeps {
  clients: KubeClients;
  forward: PodForward;
  /** An exec in a member's database container (the exec API unless given). */
  exec?: MemberExec;
}

/** An operator's cluster, attached to for one run. */
export class AttachedKubeCluster implements Cluster {
  readonly platform = "kube";
  readonly nodes: readonly string[];
  readonly ruleTag: string;
  readonly clientsAddress = LOOPBACK;
  readonly settings: Record<string, unknown>;
  readonly credentials: DbCredentials & { options: string };
  readonly plan: AttachPlan;
  readonly stackInfo: StackInfo;
  /** The attached cluster's ttl over the profile's: the scenario's holds and bounds are stretched by it. */
  readonly timeScale: number;
  private readonly stack: PatroniHaStack;
  /** What runs the failover: Patroni, or CloudNativePG's operator. */
  private readonly ha: HaRead;
  /** Members whose processes a pause stopped and no resume has continued yet: teardown continues them whatever happened. */
  private readonly paused = new Set<string>();
  private readonly agent: AgentApi;
  private readonly exec: MemberExec;
  private readonly log: Logger;
  private readonly ips = new Map<string, string>();
  private readonly down = new Set<string>();
  private primaryForward?: LocalForwarder;
  /** The Service whose ClusterIP the primary Service's Endpoints hold (PGO's <cluster>-ha), once found. */
  private followed?: V1Service;
  private readonly memberForwards = new Map<string, LocalForwarder>();
  /** Whether the run's schema may exist (a CREATE was sent): teardown drops it, IF EXISTS. */
  private schemaMaybe = false;
  private tornDown = false;
  private logsCollected = false;

  private constructor(
    readonly spec: ClusterSpec,
    readonly runId: string,
    private readonly found: AttachDiscovery,
    credentials: DbCredentials,
    private readonly deps: AttachDeps & { exec: MemberExec },
    ha: HaRead,
  ) {
    this.ha = ha;
    const o = found.operator;
    this.nodes = found.cluster.members.map((m) => m.name);
    for (const m of found.cluster.members) if (m.ip) this.ips.set(m.name, m.ip);
    this.plan = attachPlan({ runId, operator: o.name, namespace: found.namespace, cluster: found.cluster.cluster });
    this.credentials = { ...credentials, options: this.plan.sessionOptions };
    this.ruleTag = `pgchaos-${runId}`;
    this.log = spec.logger.child({ runId, attach: `${found.namespace}/${found.cluster.cluster}` });
    this.exec = deps.exec;
    const version = ha.version ?? "unknown";
    // Patroni's switchover and failover (refused on CloudNativePG before the run).
    this.stack = new PatroniHaStack(rulesFor(ha.kind === "patroni" ? ha.version : undefined), { bin: "patroni", patronictl: "patronictl", version, sha256: undefined, source: `${o.title}'s image, in its pods` });
    this.stackInfo =
      ha.kind === "patroni"
        ? { name: `patroni@${version}`, kind: "patroni", version, source: `${o.title}'s image (cluster ${found.cluster.cluster})` }
        : { name: `cloudnative-pg@${version}`, kind: "cloudnative-pg", version, source: `${o.title}'s operator and instance manager (cluster ${found.cluster.cluster})` };
    this.agent = async (node, req) => {
      if (req.method === "EXEC") {
        const x = await this.act(node, req.argv, req.timeoutMs ?? 60_000);
        return { status: x.exitCode, body: x.stdout };
      }
      // Patroni's REST API scheme, as its api_url says (no REST API on CloudNativePG).
      const scheme = ha.kind === "patroni" ? ha.scheme : "http";
      const r = await this.act(node, ["python3", "-c", PATRONI_REST_PY, scheme, req.method, req.path, ...(req.body === undefined ? [] : [JSON.stringify(req.body)])], 60_000);
      if (r.exitCode !== 0) throw new Error(`${req.method} ${req.path} on ${node}: ${(r.stderr || r.stdout).trim()}`);
      return parseRestOutput(r.stdout);
    };
    // CloudNativePG has no lease to time out: the scenario's holds and bounds stay as written.
    const ttl = ha.kind === "patroni" ? Number(ha.dynamic.ttl) : Number.NaN;
    this.timeScale = Number.isFinite(ttl) && ttl > 0 ? ttl / spec.profile.dcs.ttl : 1;
    this.settings = {
      attached: `${o.title} cluster ${found.cluster.cluster} in namespace ${found.namespace}`,
      operator: o.name,
      nodes: this.nodes.length,
      ...(ha.kind === "patroni"
        ? {
            patroni: ha.version,
            // The cluster's own HA settings, as Patroni serves them (GET /config): the profile's are not what ran.
            ...Object.fromEntries(["ttl", "loop_wait", "retry_timeout", "synchronous_mode", "synchronous_mode_strict"].filter((k) => k in ha.dynamic).map((k) => [k, ha.dynamic[k]])),
            maximum_lag_on_failover: patroniLagBound(ha.dynamic.maximum_lag_on_failover),
          }
        : // The Cluster's own settings, as its spec has them (the operator's defaults where it says nothing).
          { cloudnativePg: ha.version, ...Object.fromEntries(CNPG_SETTINGS.filter((k) => k in ha.spec).map((k) => [k, ha.spec[k]])) }),
      primaryService: "service" in found.primary ? found.primary.service : undefined,
      schema: this.plan.schema,
      dcs: ha.kind === "patroni" ? "kubernetes (the operator's)" : "none: the operator decides (the Cluster's status)",
      faultsOnKubernetes: attachFaultSemantics(o),
      attachPlan: { touches: this.plan.touches, never: this.plan.never },
    };
  }

  /**
   * Finds the cluster, reads its credentials, opens the forwards and creates the run's schema. Throws an
   * EnvironmentError (exit 2) when the cluster is not one a run can start on: not found, not whole, no Patroni,
   * credentials unreadable.
   */
  static async attach(spec: ClusterSpec, opts: AttachOptions, given: AttachDeps): Promise<AttachedKubeCluster> {
    const c = given.clients;
    const found = await discoverAttached(c, opts);
    if ("problem" in found) throw new EnvironmentError(`--attach: ${found.problem}`);
    const o = found.operator;
    const deps = { ...given, exec: given.exec ?? ((pod, argv, timeoutMs) => execInPod(c, { namespace: found.namespace, pod, container: o.container }, argv, timeoutMs)) } satisfies AttachDeps;
    const what = `${o.title} cluster ${found.cluster.cluster} in namespace ${found.namespace}`;
    const notRunning = found.cluster.members.filter((m) => m.state !== "running");
    const unsure = [
      ...(found.cluster.leader ? [] : ["no single primary"]),
      ...notRunning.map((m) => `${m.name} is ${m.state}`),
      ...("problem" in found.primary ? [found.primary.problem] : []),
      ...(found.cluster.members.length < 2 ? [`${found.cluster.members.length} member: a failover needs a replica`] : []),
    ];
    if (unsure.length > 0) {
      throw new EnvironmentError(`--attach: ${what} is not whole, so a run would measure that rather than a fault (${unsure.join("; ")}):\n${describeDiscovery(found).join("\n")}`);
    }
    const secretName = o.credentials.secret(found.cluster.cluster);
    let secret;
    try {
      secret = await c.core.readNamespacedSecret({ name: secretName, namespace: found.namespace });
    } catch (e) {
      throw new EnvironmentError(
        `--attach: cannot read Secret ${secretName} in namespace ${found.namespace}, where ${o.title} keeps the credentials the probes write with: ${apiMessage(e)}` +
          (statusOf(e) === 403 ? " (the user needs `get` on secrets in that namespace)" : ""),
      );
    }
    const runId = randomBytes(5).toString("hex");
    const creds = credentialsFromSecret(o, found.cluster.cluster, secret, "");
    if ("problem" in creds) throw new EnvironmentError(`--attach: ${creds.problem}`);
    const leader = found.cluster.leader!;
    const ha = o.patroni ? await readPatroni(deps, found, leader) : await readCnpg(deps, found, leader);
    const cluster = new AttachedKubeCluster(spec, runId, found, { user: creds.user, password: creds.password, database: creds.database, ssl: creds.ssl }, deps, ha);
    try {
      await cluster.openForwards();
      await cluster.createSchema();
    } catch (e) {
      await cluster.teardown().catch((t) => cluster.log.error({ err: errorMessage(t) }, "teardown after a failed attach"));
      throw e;
    }
    return cluster;
  }

  private check(action: AttachAction): void {
    assertAttachAllows(this.plan, this.nodes, action);
  }

  /** An exec in a member's database container, after the plan allows it. */
  private act(pod: string, argv: string[], timeoutMs?: number): Promise<ExecResult> {
    this.check({ op: "exec", pod });
    return this.exec(pod, argv, timeoutMs);
  }

  private async openForwards(): Promise<void> {
    const ns = this.found.namespace;
    const service = "service" in this.found.primary ? this.found.primary.service : "";
    const onRefused = (why: string) => this.log.debug({ why }, "connection not forwarded");
    let i = 0;
    this.primaryForward = await LocalForwarder.open({
      what: `the primary Service ${service}`,
      namespace: ns,
      port: PG_PORT,
      forward: this.deps.forward,
      onRefused,
      target: async () => {
        // The Service and its Endpoints by name (not the namespace's lists: a reconnect storm during a failover asks at every connection).
        const core = this.deps.clients.core;
        const [pods, svc, ep] = await Promise.all([this.listPods(), core.readNamespacedService({ name: service, namespace: ns }), core.readNamespacedEndpoints({ name: service, namespace: ns }).catch(() => undefined)]);
        let behind = podsBehindService(service, { services: [svc], endpoints: ep ? [ep] : [], pods }).filter((p) => this.nodes.includes(p));
        const ips = (ep?.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
        if (behind.length === 0 && ips.length > 0) {
          // Endpoints that name another Service's ClusterIP (PGO's <cluster>-primary points at <cluster>-ha): that
          // Service is found once, then only its Endpoints are read per connection.
          this.followed ??= (await core.listNamespacedService({ namespace: ns })).items.find((x) => x.spec?.clusterIP && ips.includes(x.spec.clusterIP));
          const next = this.followed?.metadata?.name;
          if (next) {
            const nextEp = await core.readNamespacedEndpoints({ name: next, namespace: ns }).catch(() => undefined);
            behind = podsBehindService(service, { services: [svc, this.followed!], endpoints: [ep!, ...(nextEp ? [nextEp] : [])], pods }).filter((p) => this.nodes.includes(p));
          }
        }
        // Several (a split brain the Service shows): spread as kube-proxy does.
        return behind.length > 0 ? { pod: behind[i++ % behind.length]! } : { none: `the primary Service ${service} routes to no member now` };
      },
    });
    for (const n of this.nodes) {
      this.memberForwards.set(n, await LocalForwarder.open({ what: `member ${n}`, namespace: ns, port: PG_PORT, forward: this.deps.forward, onRefused, target: async () => ({ pod: n }) }));
    }
  }

  private async closeForwards(): Promise<void> {
    for (const f of [this.primaryForward, ...this.memberForwards.values()]) await f?.close().catch(() => undefined);
    this.primaryForward = undefined;
    this.memberForwards.clear();
  }

  /** A session through the primary's forward with the operator's credentials, without our schema on the path. */
  private onPrimary<T>(what: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
    return this.session(this.primaryService, `${what}: the primary Service`, f);
  }

  /** A session to `at` with the operator's credentials, without our schema on the path. */
  private async session<T>(at: Endpoint, what: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
    const { user, password, database, ssl } = this.credentials;
    const client = new pg.Client({ ...at, user, password, database, ...(ssl ? { ssl } : {}), connectionTimeoutMillis: 5000, query_timeout: 15_000, application_name: "pgchaos-attach" });
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch (e) {
      throw new Error(`${what}: cannot connect as ${this.credentials.user}: ${errorMessage(e)}`);
    }
    try {
      return await f(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * CREATE SCHEMA, retried until the primary takes it. From the first attempt on the schema may exist (a CREATE can
   * commit while its answer is lost), so teardown drops it if it is there; a name taken before the first attempt is
   * someone else's and stops the run.
   */
  private async createSchema(): Promise<void> {
    const create = this.plan.creates.find((c) => c.kind === "schema")!;
    this.check({ op: "create", kind: "schema", name: create.name });
    let attempts = 0;
    await waitFor({ condition: `schema ${create.name} created`, where: "the primary Service", timeoutMs: 30_000, intervalMs: 500, signal: this.spec.signal }, async () => {
      await this.onPrimary(`creating schema ${create.name}`, async (c) => {
        const first = attempts++ === 0 && !this.schemaMaybe;
        this.schemaMaybe = true;
        try {
          await c.query(create.sql);
        } catch (e) {
          const code = (e as { code?: string }).code;
          // What the user must change ends the wait at once (p-retry's AbortError), as an EnvironmentError: exit 2.
          if (code === "42501") {
            this.schemaMaybe = false;
            throw new AbortError(new EnvironmentError(`--attach: ${this.credentials.user} may not create a schema in database ${this.credentials.database}: ${errorMessage(e)}`));
          }
          if (code === "42P06" && first) {
            this.schemaMaybe = false;
            throw new AbortError(new EnvironmentError(`--attach: a schema named ${create.name} exists already and is not this run's; nothing was changed`));
          }
          // A name taken on a later attempt is this run's own CREATE, committed while its answer was lost.
          if (code !== "42P06") throw e;
        }
      });
      return true;
    });
    this.log.info({ schema: create.name }, "schema created");
  }

  get primaryService(): Endpoint {
    if (!this.primaryForward) throw new Error("the port-forward listeners are closed");
    return { host: LOOPBACK, port: this.primaryForward.port };
  }

  endpoint(node: string): Endpoint {
    const f = this.memberForwards.get(node);
    if (!f) throw new Error(this.nodes.includes(node) ? "the port-forward listeners are closed" : `no member "${node}" in ${this.found.cluster.cluster} (members: ${this.nodes.join(", ")})`);
    return { host: LOOPBACK, port: f.port };
  }

  /** Through a port-forward every member answers 127.0.0.1: the member is then the pod that last answered through the primary's listener. */
  nodeOfAddress(ip: string): string | undefined {
    if (isLoopback(ip)) return this.primaryForward?.lastAnswered;
    for (const [n, a] of this.ips) if (a === ip) return n;
    return undefined;
  }

  addressOf(node: string): string {
    const ip = this.ips.get(node);
    if (!ip) throw new Error(`the pod of ${node} has no IP address yet`);
    return ip;
  }

  isNodeRunning(node: string): boolean {
    return !this.down.has(node);
  }

  private async listPods(): Promise<V1Pod[]> {
    const o = this.found.operator;
    return (await this.deps.clients.core.listNamespacedPod({ namespace: this.found.namespace, labelSelector: o.memberSelector(this.found.cluster.cluster) })).items;
  }

  async members(): Promise<Member[]> {
    let pods: V1Pod[];
    try {
      pods = await this.listPods();
    } catch (e) {
      throw new Error(`cannot list the pods of ${this.found.cluster.cluster}: ${apiMessage(e)}`);
    }
    for (const p of pods) if (p.metadata?.name && p.status?.podIP) this.ips.set(p.metadata.name, p.status.podIP);
    if (this.ha.kind === "cnpg") {
      const members = cnpgMembers(pods.filter((p) => this.nodes.includes(p.metadata?.name ?? "")), await this.readCnpgCluster());
      const accounts = new Map<string, CnpgOwnAccount>();
      await Promise.all(members.filter((m) => m.state === "running").map((m) => this.cnpgOwnAccount(m, accounts)));
      cnpgLags(members, accounts);
      return members;
    }
    const lock = (kind: "leader" | "sync") => patroniLock(this.deps.clients, this.found.namespace, this.found.operator, this.found.cluster.cluster, kind).then((l) => l?.annotations);
    const [leaderAnnotations, syncAnnotations] = await Promise.all([lock("leader"), lock("sync")]);
    const members = membersFromPods({ pods: pods.filter((p) => this.nodes.includes(p.metadata?.name ?? "")), leaderAnnotations, syncAnnotations, now: Date.now() });
    await streamingByOwnAccount(members, (n) => this.endpoint(n), this.credentials);
    return members;
  }

  /**
   * A CloudNativePG member's own account, by psql in its container on the local socket as the container's user (the
   * peer authentication `kubectl cnpg psql` uses too): a primary's timeline is its current WAL file's, a replica's the one
   * its WAL receiver streams, which the app user may not see and the instance manager's report has only from the last
   * restartpoint. A member that answers as a primary leads, whatever the operator's record says.
   */
  private async cnpgOwnAccount(m: Member, accounts: Map<string, CnpgOwnAccount>): Promise<void> {
    const own = await cnpgOwnAccountOf((argv, ms) => this.act(m.name, argv, ms)).catch((e: unknown) => {
      // Said where the run waits on it: a member that does not answer stays "not streaming" in the readiness message.
      this.log.debug({ member: m.name, err: errorMessage(e) }, "member's own account unread");
      return undefined;
    });
    if (!own) {
      m.streaming = false;
      return;
    }
    if (own.primary) m.role = "leader";
    else m.streaming = own.timeline !== undefined;
    m.timeline = own.timeline;
    accounts.set(m.name, own);
  }

  private async readCnpgCluster(): Promise<CnpgCluster> {
    const { namespace } = this.found;
    const { cluster } = this.found.cluster;
    try {
      return (await readCnpgCluster(this.deps.clients, namespace, cluster)) as CnpgCluster;
    } catch (e) {
      throw new Error(`cannot read CloudNativePG's Cluster ${cluster} in namespace ${namespace}: ${apiMessage(e)}`);
    }
  }

  async waitReady(opts: { timeoutMs?: number; reason?: string; signal?: AbortSignal } = {}): Promise<{ ms: number; leader: string }> {
    const started = performance.now();
    const timeoutMs = opts.timeoutMs ?? this.spec.readyTimeoutMs ?? 300_000;
    const where = `${this.found.cluster.cluster} in namespace ${this.found.namespace}${opts.reason ? ` (${opts.reason})` : ""}`;
    const left = () => Math.max(1000, timeoutMs - (performance.now() - started));
    const leader = await waitFor({ condition: "one leader", where, timeoutMs: left(), intervalMs: 1000, signal: opts.signal }, async () => oneRunningLeader(await this.members()).name);
    await waitFor({ condition: `${this.nodes.length - 1} replicas streaming from ${leader} on its timeline`, where, timeoutMs: left(), intervalMs: 1000, signal: opts.signal }, async () => {
      const ms = await this.members();
      if (ms.length < this.nodes.length) throw new Error(`only ${ms.length} of ${this.nodes.length} members`);
      await assertReplicasStreaming(ms, ms.find((m) => m.role === "leader")?.timeline, (n) => this.endpoint(n), this.credentials);
      return true;
    });
    await waitFor({ condition: `the primary Service to route to ${leader}`, where, timeoutMs: left(), intervalMs: 1000, signal: opts.signal }, async () => {
      await assertServiceReaches("the primary Service", this.primaryService, this.credentials, leader, (a) => this.nodeOfAddress(a), 5000);
      return true;
    });
    for (const n of this.nodes) this.down.delete(n);
    const ms = performance.now() - started;
    this.log.info({ ms: Math.round(ms), leader }, "cluster ready");
    return { ms, leader };
  }

  private async signal(node: string, sig: "KILL" | "STOP" | "CONT", names: string[], what: string): Promise<number> {
    const r = await this.act(node, ["sh", "-c", SIGNAL_BY_NAME, "pgchaos-signal", sig, ...names], 15_000);
    // A SIGKILL of the container's main process (PGO's Patroni) ends the container, and the exec's shell with it
    // (137): the signal was delivered.
    if (sig === "KILL" && r.exitCode === 137) return Number.NaN;
    if (r.exitCode !== 0) throw new Error(`${what} on ${node}: exit ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
    return Number(r.stdout.trim()) || 0;
  }

  /** attachFaultSemantics kill: every process of the database container but its PID 1, at once; the pod stays. */
  async killNode(node: string): Promise<void> {
    this.down.add(node);
    const r = await this.act(node, ["sh", "-c", KILL_CONTAINER], 15_000);
    // The container may end under the exec (its init exits once its child died), taking the exec's shell with it
    // (SIGKILL: 137) before it prints: that is the kill having worked.
    if (r.exitCode !== 0 && r.exitCode !== 137) {
      throw new Error(`SIGKILL of every process in the ${this.found.operator.container} container of ${node}: exit ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
    }
    // Nothing shared the exec's cgroup (a runtime that puts execs in a cgroup of their own): the fault would be a no-op.
    if (r.exitCode === 0 && r.stdout.trim() === "0") {
      throw new Error(`SIGKILL of the ${this.found.operator.container} container's processes on ${node}: none found beside the exec (its cgroup is not theirs); nothing was killed`);
    }
  }

  /**
   * What was killed is restarted by the operator's image or the kubelet, not by this: waits until the member's Patroni
   * answers its REST API as running (on CloudNativePG: its pod Ready and its PostgreSQL answering). The pod's `status` annotation is no evidence: a killed Patroni leaves "running" in it.
   * Up to 6 minutes: the kubelet's back-off before restarting a container that keeps dying doubles up to 5 minutes.
   */
  async startNode(node: string): Promise<void> {
    const cnpg = this.ha.kind === "cnpg";
    await waitFor(
      {
        condition: cnpg
          ? `${node}'s pod Ready and its PostgreSQL answering again (restarted by the kubelet)`
          : `${node}'s Patroni answering as running again (restarted by ${this.found.operator.title}'s image or the kubelet)`,
        where: `pod ${node}`,
        timeoutMs: 360_000,
        intervalMs: 1000,
        signal: this.spec.signal,
      },
      async () => {
        if (cnpg) {
          const state = podState(await this.deps.clients.core.readNamespacedPod({ name: node, namespace: this.found.namespace }));
          if (state !== "running") throw new Error(`${node}'s pod is ${state}`);
          await this.answers(node);
          return true;
        }
        const r = await this.agent(node, { method: "GET", path: "/patroni" });
        const state = r.status === 200 || r.status === 503 ? (JSON.parse(r.body) as { state?: string }).state : undefined;
        if (state !== "running") throw new Error(`Patroni on ${node}: HTTP ${r.status}${state ? `, ${state}` : ""}`);
        return true;
      },
    );
    this.down.delete(node);
  }

  /** A session on the member's own forward that runs a query. */
  private async answers(node: string): Promise<void> {
    await this.session(this.endpoint(node), `member ${node}`, (c) => c.query("SELECT 1"));
  }

  async stopNode(): Promise<void> {
    throw new Error("an attached run never stops a member gracefully (that is an eviction or deletion of the operator's pod)");
  }

  async failHost(): Promise<{ host: string }> {
    throw new Error("an attached run never powers a node off");
  }

  async restoreHost(): Promise<void> {}

  async killProcess(node: string, part: "patroni" | "postgres"): Promise<void> {
    if (part === "patroni") this.down.add(node);
    const n = await this.signal(node, "KILL", [part], `SIGKILL of ${part}`);
    if (n === 0) throw new Error(`SIGKILL of ${part} on ${node}: no process of that name in its ${this.found.operator.container} container`);
  }

  async pause(node: string, part: "patroni" | "postgres" | "all"): Promise<void> {
    this.paused.add(node);
    // Without Patroni (CloudNativePG), "all" is PostgreSQL: the instance manager is PID 1, which cannot be stopped from inside.
    const names = part === "all" ? (this.ha.kind === "patroni" ? ["patroni", "postgres"] : ["postgres"]) : [part];
    const n = await this.signal(node, "STOP", names, `SIGSTOP of ${part}`);
    if (n === 0) throw new Error(`SIGSTOP of ${part} on ${node}: no process of that name in its ${this.found.operator.container} container`);
  }

  async resume(node: string): Promise<void> {
    await this.signal(node, "CONT", ["patroni", "postgres"], "SIGCONT");
    this.paused.delete(node);
  }

  private refusedByOperator(kind: string): void {
    const why = this.found.operator.refuses?.[kind];
    if (why) throw new Error(`${kind} on an attached ${this.found.operator.title} cluster: ${why}`);
  }

  async switchover(opts: { candidate?: string }): Promise<{ from: string; to?: string }> {
    this.refusedByOperator("switchover");
    return this.stack.switchover(this.agent, this.nodes, { candidate: opts.candidate, signal: this.spec.signal });
  }

  async failover(candidate: string): Promise<{ from?: string; to: string }> {
    this.refusedByOperator("failover");
    return this.stack.failover(this.agent, this.nodes, candidate, this.spec.signal);
  }

  private refused(what: string): Error {
    return new Error(`${what}: an attached run changes nothing of the operator's pods or nodes; the faults that need it are refused before the run (capabilities.ts ATTACH_WHY_NOT)`);
  }

  async iptables(): Promise<void> {
    throw this.refused("iptables in a member's network");
  }

  async clearRules(): Promise<number> {
    return 0;
  }

  async listRules(): Promise<string[]> {
    return [];
  }

  async setLink(): Promise<void> {
    throw this.refused("a member's link");
  }

  async tc(): Promise<void> {
    throw this.refused("tc in a member's network");
  }

  async latencyUnsupported(): Promise<string | undefined> {
    return "an attached run adds nothing to the operator's pods";
  }

  async dcsLeader(): Promise<string | undefined> {
    return undefined;
  }

  async killDcs(): Promise<void> {
    throw this.refused("the DCS (the API server)");
  }

  async startDcs(): Promise<void> {}

  async pauseDcs(): Promise<void> {
    throw this.refused("the DCS (the API server)");
  }

  async resumeDcs(): Promise<void> {}

  /** The node probe runs here and reaches its member through the member's port-forward, which enters the pod on its loopback. */
  runInNodeNetwork(node: string, argv: string[], env: Record<string, string>): ChildProcess {
    return spawnProbeHere(this.spec.runDir, node, argv, env, this.ruleTag);
  }

  async collectLogs(): Promise<void> {
    if (this.logsCollected) return;
    const dest = join(this.spec.runDir, "logs");
    await copyPodLogs(this.deps.clients, { namespace: this.found.namespace, pods: this.nodes, container: this.found.operator.container, dest, base: "container" });
    writeFileSync(join(dest, "attach.txt"), `${describeDiscovery(this.found).join("\n")}\n`);
    this.logsCollected = true;
  }

  /**
   * Continues what a pause left stopped (an interrupted run's heal may not have had the time), drops the run's schema
   * (kept with --keep) and closes the forwards. The operator's objects are left as they were. Throws, saying what to
   * run by hand, when a member could not be continued or the schema could not be dropped.
   */
  async teardown(): Promise<{ ms: number }> {
    const started = performance.now();
    if (this.tornDown) return { ms: 0 };
    const problems: string[] = [];
    for (const n of [...this.paused]) {
      await this.resume(n).catch((e: unknown) =>
        problems.push(
          `${n}'s Patroni and PostgreSQL may still be stopped (SIGSTOP) and could not be continued (${errorMessage(e)}): ` +
            `kubectl exec -n ${this.found.namespace} ${n} -c ${this.found.operator.container} -- kill -CONT -1`,
        ),
      );
    }
    await this.collectLogs().catch((e) => this.log.warn({ err: errorMessage(e) }, "could not collect logs"));
    if (this.schemaMaybe && !this.spec.keep) {
      try {
        for (const c of [...this.plan.creates].reverse()) this.check({ op: "drop", kind: c.kind, name: c.name });
        await waitFor({ condition: `schema ${this.plan.schema} dropped`, where: "the primary Service", timeoutMs: 60_000, intervalMs: 1000 }, async () => {
          await this.onPrimary(`dropping schema ${this.plan.schema}`, async (c) => {
            // A drop must not queue forever behind someone's lock (nor hold up their queries behind it).
            await c.query("SET lock_timeout = '10s'");
            // The tables, or the schema itself, may not exist: a run that failed before the probes, a CREATE not committed.
            for (const sql of this.plan.drops) await c.query(sql.replace(/^DROP (TABLE|SCHEMA) /, "DROP $1 IF EXISTS "));
          });
          return true;
        });
        this.schemaMaybe = false;
      } catch (e) {
        problems.push(`the run's schema ${this.plan.schema} in database ${this.credentials.database} could not be dropped (${errorMessage(e)}): drop it with \`${this.plan.drops.join("; ")}\``);
      }
    } else if (this.schemaMaybe) {
      this.log.warn({ schema: this.plan.schema, drop: this.plan.drops }, "schema kept (--keep)");
    }
    await this.closeForwards();
    this.tornDown = true;
    if (problems.length > 0) throw new Error(problems.join("; "));
    return { ms: performance.now() - started };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.teardown();
  }
}

/** The operator's version, as the leader's instance manager prints it (`/controller/manager version`), and the Cluster's spec. */
async function readCnpg(deps: AttachDeps & { exec: MemberExec }, found: AttachDiscovery, leader: string): Promise<HaRead> {
  let spec: Record<string, unknown> = {};
  try {
    const cr = (await readCnpgCluster(deps.clients, found.namespace, found.cluster.cluster)) as CnpgCluster;
    spec = cr.spec ?? {};
  } catch (e) {
    throw new EnvironmentError(`--attach: cannot read CloudNativePG's Cluster ${found.cluster.cluster} in namespace ${found.namespace}, where it records which member is primary: ${apiMessage(e)}` + (statusOf(e) === 403 ? " (the user needs `get` on clusters.postgresql.cnpg.io in that namespace)" : ""));
  }
  // Every member's role and timeline are read this way during the run: a pod where it cannot work stops the run now.
  await cnpgOwnAccountOf((argv, ms) => deps.exec(leader, argv, ms)).catch((e: unknown) => {
    throw new EnvironmentError(`--attach: cannot read ${leader}'s role and timeline by psql in its ${found.operator.container} container (as \`kubectl cnpg psql\` does): ${errorMessage(e)}`);
  });
  let version: string | undefined;
  try {
    const r = await deps.exec(leader, ["/controller/manager", "version"], 30_000);
    version = /Version:([^\s}]+)/.exec(r.stdout)?.[1];
  } catch {
    // Unknown: the report says "unknown".
  }
  return { kind: "cnpg", version, spec };
}

/** The leader's Patroni version (its status annotation) and dynamic configuration (GET /config), for the run's settings. */
async function readPatroni(deps: AttachDeps & { exec: MemberExec }, found: AttachDiscovery, leader: string): Promise<HaRead> {
  let version: string | undefined;
  let scheme: "http" | "https" = "http";
  try {
    const st = parsePodStatus(await deps.clients.core.readNamespacedPod({ name: leader, namespace: found.namespace }));
    version = st?.version;
    if (st?.api_url?.startsWith("https:")) scheme = "https";
  } catch {
    // Unknown: the default rules and plain HTTP.
  }
  try {
    const r = await deps.exec(leader, ["python3", "-c", PATRONI_REST_PY, scheme, "GET", "/config"], 30_000);
    const reply = parseRestOutput(r.stdout);
    if (reply.status === 200) return { kind: "patroni", version, scheme, dynamic: JSON.parse(reply.body) as Record<string, unknown> };
  } catch {
    // Unknown: the report says so by leaving them out.
  }
  return { kind: "patroni", version, scheme, dynamic: {} };
}
