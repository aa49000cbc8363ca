import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/**
 * The folder a run's agents find PostgreSQL's programs in (Patroni's `bin_dir`): a link to each program of
 * PostgreSQL's own folder, except `pg_isready` and, with `initdbCache`, `initdb`, `pg_ctl` and `pg_basebackup`,
 * which are scripts of ours. Each one acts only during the run's bring-up and is PostgreSQL's own program after
 * it, and on anything it does not expect. What each saves is said where it is made (below).
 *
 * pg_isready. After starting PostgreSQL, Patroni asks `pg_isready` twice, a few milliseconds apart, and when the server
 * still answers "starting up" it sleeps one whole second before asking again (`Postgresql.wait_for_startup`).
 * PostgreSQL is up some 20 ms later; the second was lost once on the bootstrapping member and once on every
 * replica after its base backup: most of a bring-up's spread, and its median over 4 s.
 *
 * While the run's bring-up mark exists (from before the first agent starts to the cluster's first "ready"),
 * the script asks again every 20 ms, 50 times at the most (each ask waits 1 s at the most for an answer), while the answer is "starting up" or "no answer",
 * then answers as `pg_isready` does then. It never waits longer than Patroni's own sleep would, and it
 * only acts during the bring-up: once the mark is gone it is `exec pg_isready`. No fault, failover, restart
 * or recovery a scenario times ever sees it, and no HA or DCS setting changes.
 */
export function makeRunBinDir(opts: { dir: string; realDir: string; bringUpMark: string; initdbCache?: InitdbCache }): void {
  mkdirSync(opts.dir, { recursive: true, mode: 0o755 });
  chmodSync(opts.dir, 0o755);
  const ours = new Set(["pg_isready", ...(opts.initdbCache ? ["initdb", "pg_ctl", "pg_basebackup"] : [])]);
  for (const name of readdirSync(opts.realDir)) {
    if (ours.has(name)) continue;
    const link = join(opts.dir, name);
    if (!existsSync(link)) symlinkSync(join(opts.realDir, name), link);
  }
  const scripts: Record<string, string> = { pg_isready: pgIsReadyScript(join(opts.realDir, "pg_isready"), opts.bringUpMark) };
  if (opts.initdbCache) {
    prepareInitdbCache(opts.initdbCache);
    const version = execFileSync(join(opts.realDir, "postgres"), ["--version"], { encoding: "utf8" }).trim();
    const record = opts.initdbCache.record;
    writeFileSync(record, "", { mode: 0o644 });
    chownSync(record, opts.initdbCache.owner.uid, opts.initdbCache.owner.gid);
    scripts.initdb = initdbScript({ realDir: opts.realDir, cacheDir: opts.initdbCache.dir, version, bringUpMark: opts.bringUpMark, record });
    scripts.pg_basebackup = pgBasebackupScript({ realDir: opts.realDir, bringUpMark: opts.bringUpMark, record });
    scripts.pg_ctl = pgCtlScript({ real: join(opts.realDir, "pg_ctl"), initdb: join(opts.dir, "initdb"), bringUpMark: opts.bringUpMark });
  }
  for (const [name, text] of Object.entries(scripts)) {
    const script = join(opts.dir, name);
    rmSync(script, { force: true }); // never written through a link to PostgreSQL's own program
    writeFileSync(script, text, { mode: 0o755 });
    chmodSync(script, 0o755);
  }
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Where initdb's output is kept between runs, for the agents' user. A folder of that user's, mode 0700, under the
 * cache root (default /var/cache/pgchaos). Leftovers of a build that was interrupted (`.building.*`, older than ten
 * minutes) and cached outputs no run used for 30 days are removed here, before any agent of this run starts.
 */
export interface InitdbCache {
  dir: string;
  owner: { uid: number; gid: number };
  /** A file of the run's, where the bootstrapping member's initdb writes which cached copy it was made from. */
  record: string;
}

export function initdbCacheDir(): string {
  return join(process.env.PGCHAOS_CACHE || "/var/cache/pgchaos", "initdb");
}

/**
 * Copies the newest cached initdb output beside each data folder (`<node>/staged-<key>`), for the run's initdb and
 * pg_basebackup to rename into place (PLACE). Run while etcd starts, when the machine waits more than it works:
 * the same copies made later, when the bootstrapping member and both replicas need them, cost 0.5 to 1 s of the
 * bring-up on 2 busy cores. A staged copy nobody renamed (another cached copy was wanted) is removed with
 * unstageInitdbCopies; the run's folders are removed at teardown in any case.
 */
export async function stageInitdbCopies(cacheDir: string, nodeDirs: readonly string[], signal?: AbortSignal): Promise<void> {
  const newest = cachedInitdbOutputs(cacheDir)
    .map((name) => ({ name, mtime: statSync(join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime)[0];
  if (!newest) return; // No cache yet: the first bring-up makes it.
  const from = join(cacheDir, newest.name);
  await Promise.all(
    nodeDirs.map((d) => {
      const staged = join(d, `staged-${newest.name}`);
      return execFileAsync("cp", ["-a", from, staged], { signal }).catch(() => rmSync(staged, { recursive: true, force: true }));
    }),
  );
}

/** The complete cached initdb outputs in `cacheDir` (names), none while there is no cache. */
export function cachedInitdbOutputs(cacheDir = initdbCacheDir()): string[] {
  try {
    return readdirSync(cacheDir).filter((name) => !name.startsWith(".") && existsSync(join(cacheDir, name, "global", "pg_control")));
  } catch {
    return [];
  }
}

/** Removes the staged copies that were not used (the bring-up is over). */
export function unstageInitdbCopies(nodeDirs: readonly string[]): void {
  for (const d of nodeDirs) for (const name of existsSync(d) ? readdirSync(d) : []) if (name.startsWith("staged-")) rmSync(join(d, name), { recursive: true, force: true });
}

function prepareInitdbCache(c: InitdbCache): void {
  // The cache root is shared with the installed stacks, which the agents' user runs from: traversable.
  mkdirSync(dirname(c.dir), { recursive: true, mode: 0o755 });
  mkdirSync(c.dir, { recursive: true, mode: 0o700 });
  chownSync(c.dir, c.owner.uid, c.owner.gid);
  chmodSync(c.dir, 0o700);
  for (const name of readdirSync(c.dir)) {
    const path = join(c.dir, name);
    const age = Date.now() - statSync(path).mtimeMs;
    // An interrupted build, or a cached output no run used for 30 days (another PostgreSQL, other options).
    if (name.startsWith(".building.") ? age > 10 * 60_000 : age > 30 * 24 * 3600_000) rmSync(path, { recursive: true, force: true });
  }
}

/**
 * Shell: puts the cached copy $tpl into the run's empty data folder $data. The harness stages a copy beside each
 * node's data folder while etcd starts (stageInitdbCopies), which then only has to be renamed; without one, a copy.
 * Returns non-zero, leaving $data empty, when it cannot.
 */
const PLACE = `place() {
  staged="$(dirname "$data")/staged-$(basename "$tpl")"
  mkdir -p "$data" && chmod 700 "$data" || return 2
  [ -z "$(ls -A "$data")" ] || return 2
  if [ -d "$staged" ] && rmdir "$data" && mv -T "$staged" "$data"; then chmod 700 "$data"; return 0; fi
  mkdir -p "$data" && chmod 700 "$data" && cp -a "$tpl/." "$data/" && return 0
  find "$data" -mindepth 1 -delete
  return 1
}`;

/**
 * initdb for the run's agents. During the bring-up only (while the mark exists), the output of PostgreSQL's initdb for
 * these very options is copied from the cache instead of made again, and the superuser's password (initdb's
 * --pwfile) is then set in the copy with a single-user PostgreSQL. initdb costs 1 to 1.8 s of the bootstrapping
 * member's time on 2 busy cores (bootstrap mode, the catalogs, the template databases); copying its 27 MB (39 MB
 * with the WAL segment's zeros, kept as holes) and setting the password cost about 0.5 s, a rename and 0.2 s when
 * the copy was staged.
 *
 * The cache holds initdb's output without any password: it is made with every option Patroni gave but --pwfile,
 * keyed by them and by `postgres --version`, and made by the real initdb the first time (then copied as every
 * later time). The copy is what initdb makes for those options, except that every cluster made from one cached
 * copy shares its system identifier (each run has a DCS of its own, so Patroni never compares two). Anything this
 * script does not recognise (an option shape it does not parse, a folder that is not empty, a cache it cannot
 * reach, a failed step) goes to the real initdb with the arguments as given, so at worst the bring-up pays initdb.
 * Once the bring-up is over it is `exec initdb`.
 */
export function initdbScript(o: { realDir: string; cacheDir: string; version: string; bringUpMark: string; record: string }): string {
  return `#!/bin/sh
# pgchaos: initdb for the run's agents. During the bring-up only (while the mark exists), copies initdb's cached
# output for these options and sets the superuser's password; otherwise, or on anything unexpected, PostgreSQL's
# own initdb. See harness/platform/local/pg-bin.ts.
real=${q(join(o.realDir, "initdb"))}
postgres=${q(join(o.realDir, "postgres"))}
cache=${q(o.cacheDir)}
version=${q(o.version)}
[ -e ${q(o.bringUpMark)} ] || exec "$real" "$@"
set -f
pwfile= user=postgres data= key=
for a in "$@"; do
  case $a in
    *[[:space:]\\'\\"\\\\]*) exec "$real" "$@" ;;
    --pwfile=*) pwfile=\${a#--pwfile=} ;;
    --pgdata=*) [ -z "$data" ] || exec "$real" "$@"; data=\${a#--pgdata=} ;;
    --username=*) user=\${a#--username=}; key="$key $a" ;;
    # Options whose output is the same wherever it is made; any other (a path such as --waldir, an --auth that
    # the password-less build would fail on) goes to PostgreSQL's initdb.
    --encoding=*|--locale=*|--lc-*=*|--locale-provider=*|--icu-locale=*|--text-search-config=*|--wal-segsize=*) key="$key $a" ;;
    --data-checksums|-k|--no-sync|-N|--no-instructions) key="$key $a" ;;
    -*) exec "$real" "$@" ;;
    *) [ -z "$data" ] || exec "$real" "$@"; data=$a ;;
  esac
done
[ -n "$data" ] || exec "$real" "$@"
# Every single-user start here runs with the smallest standby settings there are, so that it records those and never
# initdb's defaults (see the build below); fsync is off as initdb's --no-sync leaves it.
single="-c max_connections=1 -c superuser_reserved_connections=0 -c max_worker_processes=0 -c max_wal_senders=0
  -c max_prepared_transactions=0 -c max_locks_per_transaction=10 -c log_checkpoints=off -c fsync=off"
# recipe 2: initdb, then the smallest standby settings recorded (below)
tpl="$cache/$(printf '%s\\n' "recipe 2" "$version" "$key" | sha256sum | cut -c1-16)"
if [ ! -f "$tpl/global/pg_control" ]; then
  tmp="$cache/.building.$$.$(date +%s%N)"
  # shellcheck disable=SC2086 # the options are single words, checked above
  "$real" $key "$tmp" >/dev/null || { rm -rf "$tmp"; exec "$real" "$@"; }
  # The control file records the settings a standby must at least have (max_connections and the like): initdb's
  # defaults. Patroni starts a replica with the larger of those and its own, so a replica made from this copy would
  # run with initdb's 100 connections where the leader runs with the profile's, and report "pending restart".
  # One start with the smallest values there are records those instead.
  "$postgres" --single -D "$tmp" $single postgres </dev/null >/dev/null || { rm -rf "$tmp"; exec "$real" "$@"; }
  # The WAL segment is mostly zeros: holes make every copy a third lighter (cp keeps them).
  find "$tmp/pg_wal" -maxdepth 1 -type f -name '0*' -exec fallocate --dig-holes {} + 2>/dev/null || true
  # Durable once, before it is shared: every later run copies it without a sync, as initdb --no-sync leaves it.
  "$real" --sync-only -D "$tmp" >/dev/null 2>&1 || { rm -rf "$tmp"; exec "$real" "$@"; }
  # Another run may have made it first; either copy is the same.
  mv -T "$tmp" "$tpl" 2>/dev/null || rm -rf "$tmp"
fi
${PLACE}
place || exec "$real" "$@"
if [ -n "$pwfile" ]; then
  pw=$(head -n 1 "$pwfile" | sed "s/'/''/g")
  role=$(printf '%s' "$user" | sed 's/"/""/g')
  # The statement goes on stdin, never in an argument, and is never logged (log_min_error_statement=panic).
  if ! printf 'ALTER ROLE "%s" PASSWORD '"'"'%s'"'"';\\n' "$role" "$pw" |
    "$postgres" --single -D "$data" $single -c exit_on_error=on -c log_min_error_statement=panic postgres >/dev/null; then
    find "$data" -mindepth 1 -delete
    exec "$real" "$@"
  fi
fi
# Used now: the newest cached copy is the one staged for the next run, and one unused for 30 days is removed.
touch "$tpl" 2>/dev/null
printf '%s\\n' "$tpl" > ${q(o.record)}
echo "pgchaos: initdb's output for these options copied from $tpl, the superuser's password set"
`;
}

/**
 * pg_basebackup for the run's agents. During the bring-up only, a replica of a leader that was made from a cached
 * initdb output (the record names it) starts from a copy of that same output instead of a base backup: both are
 * byte for byte what the leader's data was at the cached copy's shutdown checkpoint, and the replica then replays
 * everything since (the superuser's password, Patroni's roles) from the leader's WAL as any standby does. A base
 * backup takes 0.6 to 1.7 s here with two at once (the leader's checkpoint, 39 MB through the network, an fsync of
 * every file); the copy about 0.3 s.
 *
 * The copy is taken only when the leader says (IDENTIFY_SYSTEM, over the replication connection Patroni gives) it
 * has the cached copy's system identifier and timeline and still writes the WAL segment of its checkpoint, so the
 * WAL the replica needs is on the leader. Otherwise, on any unexpected argument, or once the bring-up is over, it
 * is PostgreSQL's own pg_basebackup with the arguments as given.
 *
 * One trace of it a reader of the logs may meet: for the few milliseconds before the replica has replayed the
 * leader's ALTER ROLE, its copy has no superuser password, so Patroni's very first login there can be refused
 * ("password authentication failed" in the replica's postgresql.log) before Patroni connects again.
 */
export function pgBasebackupScript(o: { realDir: string; bringUpMark: string; record: string }): string {
  return `#!/bin/sh
# pgchaos: pg_basebackup for the run's agents. During the bring-up only, a replica of a leader made from a cached
# initdb output starts from a copy of that output; otherwise PostgreSQL's own pg_basebackup.
# See harness/platform/local/pg-bin.ts.
real=${q(join(o.realDir, "pg_basebackup"))}
[ -e ${q(o.bringUpMark)} ] && [ -s ${q(o.record)} ] || exec "$real" "$@"
data= conn= next=
for a in "$@"; do
  if [ "$next" = X ]; then [ "$a" = stream ] || exec "$real" "$@"; next=; continue; fi
  case $a in
    --pgdata=*) data=\${a#--pgdata=} ;;
    --dbname=*) conn=\${a#--dbname=} ;;
    -X) next=X ;;
    --wal-method=stream|--checkpoint=*|--no-sync|--progress|--verbose) ;;
    *) exec "$real" "$@" ;;
  esac
done
[ -z "$next" ] && [ -n "$data" ] && [ -n "$conn" ] || exec "$real" "$@"
tpl=$(head -n 1 ${q(o.record)})
control=$(${q(join(o.realDir, "pg_controldata"))} "$tpl") || exec "$real" "$@"
field() { printf '%s\\n' "$control" | sed -n "s/^$1: *//p"; }
[ "$(field 'Database cluster state')" = "shut down" ] || exec "$real" "$@"
sysid=$(field 'Database system identifier')
tli=$(field "Latest checkpoint's TimeLineID")
ckpt=$(field 'Latest checkpoint location')
segsize=$(field 'Bytes per WAL segment')
segment() { echo $(( (0x\${1%/*} * 4294967296 + 0x\${1#*/}) / segsize )); }
[ -n "$sysid" ] && [ -n "$tli" ] && [ -n "$ckpt" ] && [ -n "$segsize" ] || exec "$real" "$@"
leader=$(${q(join(o.realDir, "psql"))} -wXAt -F ' ' -c IDENTIFY_SYSTEM "$conn replication=true" 2>/dev/null) || exec "$real" "$@"
identify() { l_sysid=$1 l_tli=$2 l_pos=$3; }
identify $leader
case $l_pos in [0-9A-Fa-f]*/[0-9A-Fa-f]*) ;; *) exec "$real" "$@" ;; esac
[ "$l_sysid" = "$sysid" ] && [ "$l_tli" = "$tli" ] && [ "$(segment "$l_pos")" = "$(segment "$ckpt")" ] || exec "$real" "$@"
${PLACE}
place || exec "$real" "$@"
echo "pgchaos: the leader was made from $tpl and still writes its checkpoint's WAL segment: copied it instead of a base backup"
`;
}

/**
 * pg_ctl for the run's agents: \`pg_ctl initdb\` (how Patroni 3 runs initdb) goes to the run's initdb during the
 * bring-up, as initdb itself would run it; everything else is PostgreSQL's own pg_ctl.
 */
export function pgCtlScript(o: { real: string; initdb: string; bringUpMark: string }): string {
  return `#!/bin/sh
# pgchaos: pg_ctl for the run's agents. During the bring-up, 'pg_ctl initdb -D DIR -o OPTIONS' runs the run's
# initdb (see harness/platform/local/pg-bin.ts); everything else is PostgreSQL's own pg_ctl.
real=${q(o.real)}
if [ "$1" = initdb ] && [ -e ${q(o.bringUpMark)} ]; then
  data= opts= next= ok=1
  for a in "$@"; do
    case $next in
      D) data=$a; next=; continue ;;
      o) opts=$a; next=; continue ;;
    esac
    case $a in
      initdb) ;;
      -D) next=D ;;
      -o) next=o ;;
      *) ok= ;;
    esac
  done
  if [ -n "$ok" ] && [ -z "$next" ] && [ -n "$data" ]; then
    case $opts in
      *[\\'\\"\\\\]*) ;;
      *)
        set -f
        # shellcheck disable=SC2086 # pg_ctl hands -o to a shell the same way: split on blanks
        exec ${q(o.initdb)} $opts "$data" ;;
    esac
  fi
fi
exec "$real" "$@"
`;
}

export function pgIsReadyScript(real: string, bringUpMark: string): string {
  return `#!/bin/sh
# pgchaos: pg_isready for Patroni. During the run's bring-up only (while ${bringUpMark} exists), asks again
# every 20 ms for up to 1 s while PostgreSQL is starting up (exit 1) or not answering (exit 2), instead of
# letting Patroni sleep a whole second. See harness/platform/local/pg-bin.ts.
real=${q(real)}
if [ -e ${q(bringUpMark)} ]; then
  i=0
  while [ $i -lt 50 ]; do
    "$real" -q -t 1 "$@"
    case $? in 1|2) ;; *) break ;; esac
    sleep 0.02
    i=$((i + 1))
  done
fi
exec "$real" "$@"
`;
}

/** Ends the bring-up: from now on the run's pg_isready is PostgreSQL's own. */
export function endBringUp(bringUpMark: string): void {
  rmSync(bringUpMark, { force: true });
}
