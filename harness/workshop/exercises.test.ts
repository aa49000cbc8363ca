import { describe, expect, it } from "vitest";
import { EXERCISES, fillIn, inlineCommands, textCommands } from "./exercises/index.ts";

const values = { leader: "n2", target: "n3", scope: "pgchaos-abc123", ttl: 10 };

/** A printed command with its placeholders (NAME, SECONDS, N...) as a pattern that concrete commands match. */
function template(cmd: string): RegExp {
  const parts = cmd.split(/\b[A-Z][A-Z_]*\b/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(parts.join("\\S+"));
}

describe("the exercises", () => {
  it("have unique ids, a check that fails first for a stated reason, a solution and a time to settle", () => {
    expect(new Set(EXERCISES.map((e) => e.id)).size).toBe(EXERCISES.length);
    expect(EXERCISES.length).toBeGreaterThanOrEqual(10);
    for (const e of EXERCISES) {
      expect(e.solution.length, e.id).toBeGreaterThan(0);
      expect(e.settleS, e.id).toBeGreaterThan(0);
      expect(e.firstReason, e.id).toBeInstanceOf(RegExp);
    }
  });

  // The solver (`npm run workshop -- --solve`, in npm test) runs every `$ ` line of each text and every solution
  // command on a live cluster. What a text or a hint quotes inline must be one of those, so a typo cannot ship.
  it("quote inline only commands that the solver runs", () => {
    const run = EXERCISES.flatMap((e) => [...textCommands(fillIn(e.text, values)), ...e.solution.map((c) => fillIn(c, values))]);
    const quoted = EXERCISES.flatMap((e) => [...inlineCommands(fillIn(e.text, values)), ...e.hints.flatMap((h) => inlineCommands(fillIn(h, values)))]);
    expect(quoted.length).toBeGreaterThan(15);
    const unrun = quoted.filter((q) => !run.some((r) => template(q).test(r)));
    expect(unrun).toEqual([]);
  });

  it("fill in the exercise's values and find the commands of a text", () => {
    expect(fillIn("patronictl switchover --leader {leader} --candidate {target} {scope}", values)).toBe("patronictl switchover --leader n2 --candidate n3 pgchaos-abc123");
    expect(textCommands("Look:\n$ patronictl list\nthen\n$ curl -s x")).toEqual(["patronictl list", "curl -s x"]);
    expect(inlineCommands("run `ws kill primary`, not `host all all reject`")).toEqual(["ws kill primary"]);
    expect(template("ws answer leader NAME").test('ws answer leader "$(etcdctl get x)"')).toBe(true);
    expect(template("ws kill primary --down 0").test("ws kill primary")).toBe(false);
  });
});
