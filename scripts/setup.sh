#!/usr/bin/env bash
# Installs what the local platform needs: Debian packages (when missing) and the npm dependencies.
# Idempotent: a machine that has everything only gets `npm ci` checked. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

# Binaries the harness runs, with the Debian package that provides each (harness/platform/local/preflight.ts).
declare -A NEED=(
  [/usr/lib/postgresql/15/bin/postgres]=postgresql-15
  [/usr/bin/patroni]=patroni
  [/usr/bin/etcd]=etcd-server
  [/usr/bin/etcdctl]=etcd-client
  [/usr/sbin/haproxy]=haproxy
  [/usr/sbin/ip]=iproute2
  [/usr/sbin/iptables]=iptables
  [/usr/bin/setpriv]=util-linux
  [/usr/bin/unshare]=util-linux
  [/usr/bin/ipcrm]=util-linux
  [/usr/bin/chromium]=chromium
  # The workshop: curl in its exercises, nsenter for `ws` inside a member's shell.
  [/usr/bin/curl]=curl
  [/usr/bin/nsenter]=util-linux
  # The docker platform: a daemon pgchaos starts itself, and the base image made by debootstrap.
  [/usr/sbin/dockerd]=docker.io
  [/usr/sbin/debootstrap]=debootstrap
  # --stack pg_auto_failover: pg_autoctl, and the monitor's extension for PostgreSQL 15.
  [/usr/bin/pg_autoctl]=pg-auto-failover-cli
  [/usr/share/postgresql/15/extension/pgautofailover.control]=postgresql-15-auto-failover
  # --stack repmgr: repmgr and repmgrd for PostgreSQL 15.
  [/usr/lib/postgresql/15/bin/repmgrd]=postgresql-15-repmgr
  # The disaster-recovery scenario: WAL archiving, backups and restores.
  [/usr/bin/pgbackrest]=pgbackrest
  # The kube tier's --attach test: a certificate for its PGO-layout cluster's TLS.
  [/usr/bin/openssl]=openssl
)
missing=()
for bin in "${!NEED[@]}"; do
  [ -e "$bin" ] || missing+=("${NEED[$bin]}")
done
# Unique, sorted package list.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if [ "${#missing[@]}" -gt 0 ]; then
  if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null; then
    echo "setup: this is not a Debian-based system. Install by hand: ${missing[*]}" >&2
    echo "  (PostgreSQL 15 server binaries in /usr/lib/postgresql/15/bin, Patroni 3 with etcd3 support, etcd 3.4+, haproxy 2.x, iproute2, iptables, util-linux)" >&2
    exit 2
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "  run as root: sudo npm run setup   (or: sudo apt-get install -y --no-install-recommends ${missing[*]})" >&2
    exit 2
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's packages start their services on install where an init system runs; the harness runs its
  # own instances, so the stock ones are kept from starting.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1; fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f "$policy"
  echo "setup: system packages installed"
else
  echo "setup: system packages present"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  echo "setup: npm dependencies present"
fi

# The Patroni versions other than Debian 12's (harness/stack/patroni/versions.ts): each .deb from Debian's
# archive, checked against its pinned SHA-256, extracted into /var/cache/pgchaos (outside the checkout).
# Debian 12's Patroni (the default) does not need them: a failure here is a warning, and a run that asks for
# another version fetches it then (or says why it cannot).
node --import tsx scripts/fetch-stacks.ts || echo "setup: warning: not every Patroni version could be fetched now; a run that asks for one fetches it then" >&2
