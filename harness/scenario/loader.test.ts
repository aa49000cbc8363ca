import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../util/errors.ts";
import { SCENARIO_DIR, listScenarios, loadScenario, parseScenario } from "./loader.ts";
import { boundFor } from "./types.ts";

const minimal = {
  name: "tiny",
  description: "a minimal scenario",
  schedule: [{ fault: { kind: "kill", target: "primary" } }],
};

/** The UsageError a call throws (fails the test if it throws something else or nothing). */
function usageError(f: () => unknown): UsageError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error("expected a UsageError, nothing was thrown");
}

async function usageErrorAsync(p: Promise<unknown>): Promise<UsageError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UsageError);
  return e as UsageError;
}

describe("parseScenario", () => {
  it("fills every default", () => {
    const s = parseScenario(minimal, "tiny.ts");
    expect(s).toMatchObject({
      name: "tiny",
      platform: "local",
      stack: "patroni",
      nodes: 3,
      profile: "fast",
      sync: false,
      warmupMs: 3000,
      recoveryTimeoutMs: 120_000,
      cooldownMs: 2000,
      workload: { writeIntervalMs: 10, nodeProbeIntervalMs: 100, connectTimeoutMs: 1000, queryTimeoutMs: 2000 },
      expect: { lostWrites: 0, divergence: false },
    });
    expect(s.expect.maxWriteUnavailableMs).toBeUndefined();
    expect(s.schedule).toEqual([{ fault: { kind: "kill", target: "primary" }, holdMs: 0, afterMs: 0 }]);
  });

  it("keeps given values and fills the rest of a partial workload", () => {
    const s = parseScenario({ ...minimal, nodes: 5, profile: "default", workload: { writeIntervalMs: 50 } }, "x");
    expect(s.nodes).toBe(5);
    expect(s.profile).toBe("default");
    expect(s.workload).toEqual({ writeIntervalMs: 50, nodeProbeIntervalMs: 100, connectTimeoutMs: 1000, queryTimeoutMs: 2000 });
  });

  it("does not mutate its input", () => {
    const raw = structuredClone(minimal);
    parseScenario(raw, "x");
    expect(raw).toEqual(minimal);
  });

  it("lists every wrong field with its path, naming the source", () => {
    const e = usageError(() =>
      parseScenario(
        {
          name: "Bad Name",
          description: "d",
          nodes: 1,
          colour: "red",
          schedule: [
            { fault: { kind: "kill", target: "primary" }, holdMs: -5 },
            { fault: { kind: "explode", target: "n1" } },
          ],
          expect: { lostWrites: -1 },
        },
        "/somewhere/bad.ts",
      ),
    );
    const msg = e.message;
    expect(msg).toContain("scenario /somewhere/bad.ts is malformed");
    expect(msg).toMatch(/- name: lower-case letters, digits and dashes/);
    expect(msg).toMatch(/- nodes: /);
    expect(msg).toMatch(/- schedule\.0\.holdMs: /);
    expect(msg).toMatch(/- schedule\.1\.fault\.kind: /);
    expect(msg).toMatch(/- expect\.lostWrites: /);
    expect(msg).toMatch(/- \(top level\): .*colour/);
  });

  it("rejects unknown keys in nested strict objects", () => {
    const e = usageError(() =>
      parseScenario(
        {
          ...minimal,
          workload: { writeIntervalMs: 10, burst: true },
          schedule: [{ fault: { kind: "kill", target: "primary", signal: 9 }, hold: 100 }],
        },
        "x",
      ),
    );
    expect(e.message).toMatch(/- workload: .*burst/);
    expect(e.message).toMatch(/- schedule\.0: .*hold/);
    expect(e.message).toMatch(/- schedule\.0\.fault: .*signal/);
  });

  it("requires a schedule with at least one step", () => {
    const { schedule: _omit, ...noSchedule } = minimal;
    expect(usageError(() => parseScenario(noSchedule, "x")).message).toMatch(/- schedule: /);
    expect(usageError(() => parseScenario({ ...minimal, schedule: [] }, "x")).message).toMatch(/- schedule: /);
  });

  it("reports what is not an object at the top level", () => {
    expect(usageError(() => parseScenario(undefined, "x")).message).toMatch(/- \(top level\): /);
    expect(usageError(() => parseScenario("primary-kill", "x")).message).toMatch(/- \(top level\): /);
  });

  it("accepts a per-profile holdMs and bound", () => {
    const s = parseScenario(
      {
        ...minimal,
        schedule: [{ fault: { kind: "switchover" }, holdMs: { fast: 1000, default: 2000 } }],
        expect: { maxWriteUnavailableMs: { fast: 30_000 } },
      },
      "x",
    );
    expect(s.schedule[0]!.holdMs).toEqual({ fast: 1000, default: 2000 });
    expect(s.expect.maxWriteUnavailableMs).toEqual({ fast: 30_000 });
    expect(usageError(() => parseScenario({ ...minimal, expect: { maxWriteUnavailableMs: 0 } }, "x")).message).toMatch(
      /expect\.maxWriteUnavailableMs/,
    );
  });
});

describe("a disaster in the schedule", () => {
  const disaster = (schedule: unknown[]) => parseScenario({ ...minimal, schedule }, "x");

  it("needs a backup before it to restore from, and is alone", () => {
    expect(usageError(() => disaster([{ fault: { kind: "disaster" } }])).message).toMatch(/- schedule\.0\.fault: a disaster needs a backup earlier in the schedule/);
    expect(usageError(() => disaster([{ fault: { kind: "disaster" } }, { fault: { kind: "backup" }, afterMs: 9000 }])).message).toMatch(/a disaster needs a backup/);
    const two = [{ fault: { kind: "backup" }, afterMs: 9000 }, { fault: { kind: "disaster" } }, { fault: { kind: "backup" }, afterMs: 9000 }, { fault: { kind: "disaster" } }];
    expect(usageError(() => disaster(two)).message).toMatch(/- schedule\.3\.fault: a scenario has at most one disaster/);
  });

  it("needs its point-in-time target in archived WAL, after the backup ended", () => {
    expect(usageError(() => disaster([{ fault: { kind: "backup" }, afterMs: 9000 }, { fault: { kind: "disaster", pitrBeforeMs: 4000 } }])).message).toMatch(
      /schedule\.1\.fault\.pitrBeforeMs: the point-in-time target must lie in WAL the archive got .* give pitrBeforeMs 7000 or more/,
    );
    const e = usageError(() => disaster([{ fault: { kind: "backup" }, afterMs: 3000 }, { fault: { kind: "disaster" } }]));
    expect(e.message).toMatch(/schedule\.1\.fault\.pitrBeforeMs: the point-in-time target \(8000 ms before the disaster\) must fall after the backup ended, 3000 ms before it/);
    // The backup's own hold, and the steps between, count; a per-profile hold counts at its shortest.
    const ok = disaster([{ fault: { kind: "backup" }, holdMs: 3000, afterMs: 3000 }, { fault: { kind: "kill", target: "replica" }, holdMs: { fast: 3000, default: 9000 } }, { fault: { kind: "disaster" } }]);
    expect(ok.schedule[2]!.fault).toEqual({ kind: "disaster", pitrBeforeMs: 8000 });
    expect(usageError(() => disaster([{ fault: { kind: "backup" }, holdMs: {}, afterMs: 3000 }, { fault: { kind: "disaster" } }])).message).toMatch(/must fall after the backup ended, 3000 ms before it/);
  });
});

describe("boundFor", () => {
  it("passes a number and undefined through", () => {
    expect(boundFor(30_000, "fast")).toBe(30_000);
    expect(boundFor(undefined, "fast")).toBeUndefined();
  });

  it("picks the profile's value from a record", () => {
    const b = { fast: 30_000, default: 60_000 };
    expect(boundFor(b, "fast")).toBe(30_000);
    expect(boundFor(b, "default")).toBe(60_000);
    expect(boundFor(b, "slow")).toBeUndefined();
  });

  it('falls back from "fast+sync" to "fast", but prefers an exact entry', () => {
    expect(boundFor({ fast: 30_000 }, "fast+sync")).toBe(30_000);
    expect(boundFor({ fast: 30_000, "fast+sync": 45_000 }, "fast+sync")).toBe(45_000);
    expect(boundFor({ default: 60_000 }, "fast+sync")).toBeUndefined();
  });
});

describe("loadScenario and listScenarios on a scenario folder", () => {
  let dir: string;
  const file = (name: string, text: string) => writeFileSync(join(dir, name), text);
  const scenarioText = (name: string) =>
    `export default ${JSON.stringify({ ...minimal, name, description: `scenario ${name}` })};\n`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pgchaos-scenarios-"));
    file("primary-kill.ts", scenarioText("primary-kill"));
    file("replica-kill.ts", scenarioText("replica-kill"));
    file("no-default.ts", "export const scenario = { name: 'no-default' };\n");
    file("wrong-name.ts", scenarioText("other-name"));
    file("broken.ts", "export default { name: 'broken', description: \n");
    file("malformed.ts", "export default { name: 'malformed', description: 'd', schedule: [{ fault: { kind: 'explode' } }] };\n");
    file("helper.test.ts", "export default {};\n");
    file("notes.md", "not a scenario\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists .ts files by name, sorted, ignoring tests and other files", () => {
    expect(listScenarios(dir)).toEqual(["broken", "malformed", "no-default", "primary-kill", "replica-kill", "wrong-name"]);
  });

  it("loads a valid file, defaults filled", async () => {
    const s = await loadScenario("primary-kill", dir);
    expect(s.name).toBe("primary-kill");
    expect(s.description).toBe("scenario primary-kill");
    expect(s.nodes).toBe(3);
    expect(s.expect.lostWrites).toBe(0);
  });

  it("an unknown name lists the available ones and suggests near names", async () => {
    const e = await usageErrorAsync(loadScenario("kill", dir));
    expect(e.message).toContain('unknown scenario "kill"');
    expect(e.message).toMatch(/Did you mean: primary-kill, replica-kill\?/);
    expect(e.message).toContain("Available: broken, malformed, no-default, primary-kill, replica-kill, wrong-name.");
  });

  it("an unknown name with nothing near gives no suggestion", async () => {
    const e = await usageErrorAsync(loadScenario("zzz", dir));
    expect(e.message).not.toContain("Did you mean");
    expect(e.message).toContain("Available: ");
  });

  it("refuses names that are not plain file names, without loading anything", async () => {
    const e = await usageErrorAsync(loadScenario("../loader", dir));
    expect(e.message).toContain('unknown scenario "../loader"');
    await usageErrorAsync(loadScenario("helper.test", dir)); // the file exists, but "." is not allowed
  });

  it("a file without a default export", async () => {
    const e = await usageErrorAsync(loadScenario("no-default", dir));
    expect(e.message).toContain(join(dir, "no-default.ts"));
    expect(e.message).toContain("no default export");
  });

  it("a name that does not match the file name", async () => {
    const e = await usageErrorAsync(loadScenario("wrong-name", dir));
    expect(e.message).toContain('is named "other-name"');
    expect(e.message).toContain('file name "wrong-name"');
  });

  it("a file with a syntax error is a UsageError naming the file", async () => {
    const e = await usageErrorAsync(loadScenario("broken", dir));
    expect(e.message).toContain(join(dir, "broken.ts"));
    expect(e.message).toContain("could not be loaded");
  });

  it("a malformed scenario names the file and the field", async () => {
    const e = await usageErrorAsync(loadScenario("malformed", dir));
    expect(e.message).toContain(`scenario ${join(dir, "malformed.ts")} is malformed`);
    expect(e.message).toMatch(/schedule\.0\.fault\.kind/);
  });
});

describe("the real scenarios folder", () => {
  const names = listScenarios();

  it("has scenarios", () => {
    expect(SCENARIO_DIR.endsWith("scenarios")).toBe(true);
    expect(names.length).toBeGreaterThan(0);
  });

  it.each(names)("%s loads, validates and is named after its file", async (name) => {
    const s = await loadScenario(name);
    expect(s.name).toBe(name);
    expect(s.schedule.length).toBeGreaterThan(0);
  });
});
