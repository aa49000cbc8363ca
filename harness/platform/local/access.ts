import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { EnvironmentError } from "../../util/errors.ts";

export interface AccessNeed {
  path: string;
  /** "r": read a file; "x": run a program or enter a folder; "w": write into a folder. */
  need: "r" | "x" | "w";
  /** What the path is for, in the error. */
  what: string;
}

/** The needs `user` does not meet, tested as that user (setpriv), in one process. */
export function unmetNeeds(user: string, needs: readonly AccessNeed[]): AccessNeed[] {
  if (needs.length === 0) return [];
  const script = 'i=0; while [ $# -gt 0 ]; do test "-$1" "$2" || echo $i; i=$((i+1)); shift 2; done';
  const out = execFileSync("setpriv", [`--reuid=${user}`, `--regid=${user}`, "--init-groups", "--", "/bin/sh", "-c", script, "sh", ...needs.flatMap((n) => [n.need, n.path])], {
    cwd: "/",
    encoding: "utf8",
  });
  return out
    .split("\n")
    .filter((l) => l !== "")
    .map((i) => needs[Number(i)]!);
}

/** The first folder on the way to `path` that `user` cannot enter, with its mode and owner, if one is. */
function closedAncestor(user: string, path: string): string | undefined {
  const chain: string[] = [];
  for (let d = dirname(path); ; d = dirname(d)) {
    chain.unshift(d);
    if (d === "/") break;
  }
  const closed = unmetNeeds(user, chain.map((d) => ({ path: d, need: "x" as const, what: "" })))[0];
  if (!closed) return undefined;
  const st = statSync(closed.path);
  return `${closed.path} (mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")}, owner uid ${st.uid})`;
}

/**
 * Throws an EnvironmentError naming every path `user` cannot use and why, before anything runs as that user:
 * a server that cannot read its own files fails late and obscurely (a bootstrap that never ends).
 */
export function assertUsableBy(user: string, needs: readonly AccessNeed[]): void {
  const unmet = unmetNeeds(user, needs);
  if (unmet.length === 0) return;
  const verb = { r: "read", x: "enter or run", w: "write into" };
  const lines = unmet.map((n) => {
    const closed = closedAncestor(user, n.path);
    return `  ${n.what}: the ${user} user cannot ${verb[n.need]} ${n.path}${closed ? `: the folder ${closed} is closed to it` : ""}`;
  });
  throw new EnvironmentError(
    `processes run as ${user} here, and some of what they need is closed to that user:\n${lines.join("\n")}\n` +
      `Open the folders on the way (chmod o+x FOLDER), or move what lives there (PGCHAOS_WORK_ROOT sets where node data goes).`,
  );
}
