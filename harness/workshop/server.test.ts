import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { UsageError } from "../util/errors.ts";
import { writeRunDir } from "../report/test-run.ts";
import { serve, timelineSvgOf, type Listening, type PagePayload, type PageSource } from "./server.ts";
import { ReplaySource } from "./replay.ts";
import { primaryKillHistory } from "../report/test-run.ts";

class FakeSource implements PageSource {
  acted: Array<[string, Record<string, unknown>]> = [];
  listeners = new Set<() => void>();
  payload(): PagePayload {
    return { mode: "live", events: [{ time: 1, kind: "promotion", text: "<b>n2</b> took the key" }] };
  }
  onChange(l: () => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  async act(verb: string, body: Record<string, unknown>) {
    if (verb === "bad") throw new UsageError("say it another way");
    this.acted.push([verb, body]);
    return `did ${verb}`;
  }
}

/** A raw request, so the Host header can be anything (fetch fixes it). */
function raw(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((ok, ko) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", ko);
    req.end();
  });
}

describe("the workshop's page server", () => {
  let l: Listening;
  const source = new FakeSource();
  beforeAll(async () => {
    l = await serve(source, { title: "t" });
  });
  afterAll(() => l.close());

  it("listens on 127.0.0.1 only and serves the page under a policy that forbids anything from elsewhere", async () => {
    expect(l.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#t=[0-9a-f]{32}$/);
    expect(l.server.address()).toMatchObject({ address: "127.0.0.1" });
    const res = await fetch(`http://127.0.0.1:${l.port}/`);
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'; script-src 'self'/);
    const html = await res.text();
    expect(html).not.toMatch(/<script>|https?:\/\/(?!127)/);
    expect(await (await fetch(`http://127.0.0.1:${l.port}/app.js`)).text()).toContain("new EventSource");
  });

  it("refuses another Host (DNS rebinding) and actions without the token", async () => {
    expect((await raw(l.port, "/api/state", { host: "evil.example:80" })).status).toBe(421);
    const res = await fetch(`http://127.0.0.1:${l.port}/api/kill`, { method: "POST", body: "{}" });
    expect(res.status).toBe(403);
    expect(source.acted).toEqual([]);
  });

  it("runs an action with the token, and says what was wrong as a 400", async () => {
    const post = (verb: string) => fetch(`http://127.0.0.1:${l.port}/api/${verb}`, { method: "POST", headers: { "x-pgchaos-token": l.token }, body: JSON.stringify({ target: "primary" }) });
    const ok = await post("kill");
    expect(await ok.json()).toEqual({ ok: true, out: "did kill" });
    expect(source.acted).toEqual([["kill", { target: "primary" }]]);
    const bad = await post("bad");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "say it another way" });
  });

  it("streams the state as Server-Sent Events", async () => {
    const res = await fetch(`http://127.0.0.1:${l.port}/events`);
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    await reader.cancel();
    const text = new TextDecoder().decode(value);
    expect(text.startsWith("event: state\ndata: ")).toBe(true);
    expect(JSON.parse(text.split("data: ")[1]!.split("\n")[0]!).events[0].text).toBe("<b>n2</b> took the key");
  });
});

describe("the live timeline", () => {
  it("draws only the last minute of the history, with the report's chart", () => {
    const h = primaryKillHistory();
    const end = h[h.length - 1]!.time;
    const svg = timelineSvgOf(h, 60_000, end)!;
    expect(svg).toContain('id="live-timeline"');
    expect(svg).toContain("timeline 1 → 2");
    expect(timelineSvgOf(h, 1000, end + 120_000)).toBeUndefined();
  });
});

describe("--replay", () => {
  it("plays a stored run: the primary moves, writes fail in the window, the faults show", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pgchaos-replay-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeRunDir(dir);
    const r = await ReplaySource.open(dir, 100);
    const early = r.payload();
    await r.done;
    const late = r.payload();
    expect(early.mode).toBe("replay");
    expect(late.snapshot!.writes.fail).toBeGreaterThan(0);
    expect(late.snapshot!.leader).toBe("n2");
    expect(late.events.map((e) => e.kind)).toEqual(expect.arrayContaining(["fault", "heal"]));
    expect(late.timelineSvg).toContain("timeline 1 → 2");
    await expect(ReplaySource.open(join(dir, "nothing"), 1)).rejects.toThrow(/not a run directory: it has no history.jsonl/);
  });
});
