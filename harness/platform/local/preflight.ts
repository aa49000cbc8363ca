import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { EnvironmentError } from "../../util/errors.ts";

export const PG_BIN_DIR = "/usr/lib/postgresql/15/bin";

/** Binaries the local platform runs, with the Debian package that provides each. */
export const REQUIRED: Array<{ path: string; pkg: string }> = [
  { path: "/usr/sbin/ip", pkg: "iproute2" },
  { path: "/usr/sbin/iptables", pkg: "iptables" },
  { path: "/usr/bin/setpriv", pkg: "util-linux" },
  { path: "/usr/bin/ipcrm", pkg: "util-linux" },
  { path: "/usr/bin/patroni", pkg: "patroni" },
  { path: "/usr/bin/etcd", pkg: "etcd-server" },
  { path: "/usr/bin/etcdctl", pkg: "etcd-client" },
  { path: "/usr/sbin/haproxy", pkg: "haproxy" },
  { path: `${PG_BIN_DIR}/postgres`, pkg: "postgresql-15" },
];

export function missingBinaries(exists: (p: string) => boolean = isExecutable): Array<{ path: string; pkg: string }> {
  return REQUIRED.filter((r) => !exists(r.path));
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Everything the local platform needs, checked before anything is created. */
export function localPreflight(): void {
  if (process.platform !== "linux") {
    throw new EnvironmentError(
      `the local platform needs Linux network namespaces; this is ${process.platform}. Use --platform kind or run on Linux.`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new EnvironmentError(
      "the local platform creates network namespaces, a bridge and iptables rules, which needs root: run as root (for example `sudo npm run scenario -- ...`).",
    );
  }
  const missing = missingBinaries();
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    throw new EnvironmentError(
      `missing system packages: ${pkgs.join(", ")} (not found: ${missing.map((m) => m.path).join(", ")}). ` +
        `Run \`npm run setup\` as root, or install them by hand: apt-get install -y ${pkgs.join(" ")}`,
    );
  }
  if (!readFileSync("/etc/passwd", "utf8").split("\n").some((l) => l.startsWith("postgres:"))) {
    throw new EnvironmentError("there is no 'postgres' user (initdb refuses root): install postgresql-15, which creates it, or `useradd -r postgres`.");
  }
  if (!existsSync("/proc/sys/net")) {
    throw new EnvironmentError("/proc/sys/net is not available: the local platform needs a kernel with network namespaces.");
  }
}
