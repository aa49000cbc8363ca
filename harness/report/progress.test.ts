import { afterEach, describe, expect, it, vi } from "vitest";
import { Progress } from "./progress.ts";

function fakeStream(isTTY = false) {
  const writes: string[] = [];
  const out = { isTTY, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream;
  return { out, writes };
}

afterEach(() => vi.useRealTimers());

describe("Progress on a non-terminal", () => {
  it("prints one line per ended phase, with its name and seconds, and records the phases", () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    const { out, writes } = fakeStream();
    const p = new Progress(out);
    p.start("deploy");
    expect(writes).toEqual([]); // nothing until the phase ends
    vi.advanceTimersByTime(2_345);
    p.end("leader n1");
    p.start("faults");
    vi.advanceTimersByTime(12_000);
    p.start("teardown"); // starting a phase ends the current one
    vi.advanceTimersByTime(500);
    p.end("boom", true);

    expect(writes).toHaveLength(3);
    expect(writes.every((w) => w.endsWith("\n") && !w.includes("\x1b") && !w.includes("\r"))).toBe(true);
    expect(writes[0]).toMatch(/^ {2}✓ deploy\s+2\.3s {2}leader n1\n$/);
    expect(writes[1]).toMatch(/^ {2}✓ faults\s+12\.0s\n$/);
    expect(writes[2]).toMatch(/^ {2}✗ teardown\s+0\.5s {2}boom\n$/);
    expect(p.phases).toEqual([
      { name: "deploy", ms: 2345 },
      { name: "faults", ms: 12_000 },
      { name: "teardown", ms: 500 },
    ]);
  });

  it("end without a current phase does nothing", () => {
    const { out, writes } = fakeStream();
    const p = new Progress(out);
    p.end();
    p.start("a");
    p.end();
    p.end();
    expect(writes).toHaveLength(1);
    expect(p.phases.map((x) => x.name)).toEqual(["a"]);
  });

  it("prints free lines", () => {
    const { out, writes } = fakeStream();
    new Progress(out).line("hello");
    expect(writes).toEqual(["hello\n"]);
  });

  it("quiet mode writes nothing but still records phases", () => {
    const { out, writes } = fakeStream(true); // even on a terminal
    const p = new Progress(out, true);
    p.start("deploy");
    p.end("leader n1");
    p.start("faults");
    p.line("a note");
    p.end(undefined, true);
    expect(writes).toEqual([]);
    expect(p.phases.map((x) => x.name)).toEqual(["deploy", "faults"]);
    expect(p.phases.every((x) => Number.isInteger(x.ms) && x.ms >= 0)).toBe(true);
  });
});

describe("Progress on a terminal", () => {
  it("redraws the live line and rewrites it in place when the phase ends", () => {
    vi.useFakeTimers({ toFake: ["performance", "setInterval", "clearInterval"] });
    const { out, writes } = fakeStream(true);
    const p = new Progress(out);
    p.start("deploy");
    expect(writes).toEqual(["\r\x1b[2K  … deploy 0.0s"]);
    vi.advanceTimersByTime(600);
    expect(writes.length).toBe(4); // three redraws at 200 ms
    expect(writes[3]).toBe("\r\x1b[2K  … deploy 0.6s");
    p.end();
    expect(writes[4]).toMatch(/^\r\x1b\[2K {2}✓ deploy\s+0\.6s\n$/);
    vi.advanceTimersByTime(1_000);
    expect(writes).toHaveLength(5); // the redraw timer is gone
  });
});
