import { describe, expect, it } from "vitest";
import { parentOf, parsePostmasterPid, podInit, stateOf, withDescendants } from "./procs.ts";

/** /proc/<pid>/stat as the kernel writes it: pid (comm) state ppid pgrp session ... */
const stat = (pid: number, comm: string, state: string, ppid: number) =>
  `${pid} (${comm}) ${state} ${ppid} ${pid} ${pid} 0 -1 4194560 1169 0 0 0 3 1 0 0 20 0 1 0 27811 226426880 6874 18446744073709551615\n`;

describe("stateOf and parentOf", () => {
  it("read a plain stat line", () => {
    const s = stat(4242, "postgres", "S", 1);
    expect(stateOf(s)).toBe("S");
    expect(parentOf(s)).toBe(1);
  });

  it("read past a command that contains spaces and parentheses", () => {
    const s = "123 (postgres: a (b) c) S 1 123 123 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 500 0 0\n";
    expect(stateOf(s)).toBe("S");
    expect(parentOf(s)).toBe(1);
  });

  it("are not fooled by a command that looks like the following fields", () => {
    // comm is attacker-controlled (prctl PR_SET_NAME); only the last ')' ends it.
    const s = stat(77, ") Z 999 (", "R", 4242);
    expect(stateOf(s)).toBe("R");
    expect(parentOf(s)).toBe(4242);
  });

  it("report zombies and other states", () => {
    expect(stateOf(stat(10, "patroni", "Z", 9))).toBe("Z");
    expect(stateOf(stat(10, "etcd", "D", 9))).toBe("D");
    expect(parentOf(stat(10, "etcd", "D", 98765))).toBe(98765);
  });

  it("handle an empty command", () => {
    const s = stat(5, "", "S", 2);
    expect(stateOf(s)).toBe("S");
    expect(parentOf(s)).toBe(2);
  });
});

describe("parsePostmasterPid", () => {
  // PostgreSQL 15's postmaster.pid (pidfile.h): pid, data dir, start epoch, port, first socket dir,
  // first listen address, "%9lu %9lu" shm key and id, status padded to 8 characters.
  const pg15 = [
    "4242",
    "/var/lib/pgchaos/abc123/n1/data",
    "1718000000",
    "5432",
    "/var/lib/pgchaos/abc123/n1/sock",
    "10.213.45.1",
    "  5432001     65538",
    "ready   ",
    "",
  ].join("\n");

  it("reads pid, data dir, port, socket dir and the SysV shm id", () => {
    expect(parsePostmasterPid(pg15)).toEqual({
      pid: 4242,
      dataDir: "/var/lib/pgchaos/abc123/n1/data",
      port: 5432,
      socketDir: "/var/lib/pgchaos/abc123/n1/sock",
      shmId: 65538,
    });
  });

  it("reads a shm id of 0, which is a valid SysV id", () => {
    const text = pg15.replace("  5432001     65538", "  5432001         0");
    expect(parsePostmasterPid(text)?.shmId).toBe(0);
  });

  it("leaves shmId undefined while the postmaster is still starting (no shm line yet)", () => {
    const starting = ["4242", "/data", "1718000000", "5433", "/sock", ""].join("\n");
    const r = parsePostmasterPid(starting);
    expect(r).toEqual({ pid: 4242, dataDir: "/data", port: 5433, socketDir: "/sock", shmId: undefined });
  });

  it("leaves shmId undefined when the shm line is blank or not two numbers", () => {
    for (const shmLine of ["", "         ", "  5432001", "  5432001     abc", "1 2 3"]) {
      const text = pg15.replace("  5432001     65538", shmLine);
      const r = parsePostmasterPid(text);
      expect(r?.pid, JSON.stringify(shmLine)).toBe(4242);
      expect(r?.shmId, JSON.stringify(shmLine)).toBeUndefined();
    }
  });

  it.each([
    ["empty", ""],
    ["garbage", "not a pid file\n\x00\x01"],
    ["a non-numeric pid", "42abc\n/data\n"],
    ["a zero pid", "0\n/data\n"],
    // A standalone (single-user) backend writes its pid negated.
    ["a negative pid", "-4242\n/data\n1718000000\n5432\n/sock\n\n  5432001     65538\nready   \n"],
    ["a fractional pid", "42.5\n/data\n"],
  ])("returns undefined for %s", (_label, text) => {
    expect(parsePostmasterPid(text)).toBeUndefined();
  });
});

describe("withDescendants", () => {
  // 1 ─ 100 (patroni) ─ 200 (postgres) ─┬ 201 checkpointer
  //                                      ├ 202 walwriter
  //                                      └ 203 walsender ─ 300
  //   └ 500 (etcd) ─ 501
  const procs = [
    { pid: 1, ppid: 0, cmdline: "init" },
    { pid: 100, ppid: 1, cmdline: "patroni /work/abc123/n1/patroni.yml" },
    { pid: 200, ppid: 100, cmdline: "postgres -D /work/abc123/n1/data" },
    { pid: 201, ppid: 200, cmdline: "postgres: checkpointer" },
    { pid: 202, ppid: 200, cmdline: "postgres: walwriter" },
    { pid: 203, ppid: 200, cmdline: "postgres: walsender" },
    { pid: 300, ppid: 203, cmdline: "child" },
    { pid: 500, ppid: 1, cmdline: "etcd" },
    { pid: 501, ppid: 500, cmdline: "etcd helper" },
  ];

  it("returns the root and all its descendants, and nothing else", () => {
    const r = withDescendants([200], procs);
    expect([...r].sort((a, b) => a - b)).toEqual([200, 201, 202, 203, 300]);
  });

  it("lists parents before their children", () => {
    const r = withDescendants([100], procs);
    expect(r[0]).toBe(100);
    for (const p of procs) {
      if (!r.includes(p.pid) || p.pid === 100) continue;
      expect(r.indexOf(p.ppid), `parent of ${p.pid}`).toBeLessThan(r.indexOf(p.pid));
    }
    expect(r).toHaveLength(6);
  });

  it("handles several roots and does not repeat overlapping subtrees", () => {
    const r = withDescendants([200, 100, 500, 203], procs);
    expect(new Set(r).size).toBe(r.length);
    expect([...r].sort((a, b) => a - b)).toEqual([100, 200, 201, 202, 203, 300, 500, 501]);
  });

  it("keeps a root that is not in the list (already gone) and finds no children for it", () => {
    expect(withDescendants([9999], procs)).toEqual([9999]);
    expect(withDescendants([], procs)).toEqual([]);
  });

  it("terminates on a cycle in the parent links", () => {
    const cyclic = [
      { pid: 10, ppid: 11, cmdline: "a" },
      { pid: 11, ppid: 10, cmdline: "b" },
    ];
    expect(withDescendants([10], cyclic)).toEqual([10, 11]);
  });
});

describe("podInit", () => {
  it("finds the child of an unshare PID: the namespace's PID 1 as the host sees it", () => {
    const procs = [
      { pid: 700, ppid: 1, cmdline: "unshare --pid --fork --mount-proc ip netns exec pgc-abc123-n1 patroni" },
      { pid: 701, ppid: 700, cmdline: "patroni /work/abc123/n1/patroni.yml" },
      { pid: 702, ppid: 701, cmdline: "postgres -D /data" },
    ];
    expect(podInit(700, procs)).toBe(701);
    expect(podInit(701, procs)).toBe(702);
  });

  it("returns undefined when the process has no child (yet)", () => {
    expect(podInit(702, [{ pid: 702, ppid: 701, cmdline: "postgres" }])).toBeUndefined();
    expect(podInit(702, [])).toBeUndefined();
  });
});
