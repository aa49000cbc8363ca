import { createServer } from "node:http";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { esc } from "../report/escape.ts";
import { EXERCISES } from "./exercises/index.ts";
import { liveWorkshops, type Registration } from "./registry.ts";
import type { PagePayload } from "./server.ts";
import type { Listening } from "./server.ts";
import type { Figures } from "./types.ts";

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export interface LearnerRow {
  learner: string;
  url: string;
  exercise?: number;
  id?: string;
  passed: boolean;
  reason?: string;
  /** Seconds on the current exercise without passing. */
  stuckS?: number;
  /** Per exercise id: passed, with its figures. */
  results: Record<string, { passed: boolean; figures?: Figures }>;
  error?: string;
}

/** What every workshop on this machine is doing, read from its own /api/state. */
export async function classRows(workshops: ReadonlyArray<Registration> = liveWorkshops(), now = Date.now()): Promise<LearnerRow[]> {
  return Promise.all(
    workshops.map(async (w): Promise<LearnerRow> => {
      try {
        const res = await fetch(`http://127.0.0.1:${w.port}/api/state`, { signal: AbortSignal.timeout(2000) });
        const p = (await res.json()) as PagePayload;
        const x = p.exercise;
        return {
          learner: w.learner,
          url: w.url,
          exercise: x?.index,
          id: x?.id,
          passed: x?.check?.ok === true,
          reason: x?.check && !x.check.ok ? x.check.reason : undefined,
          stuckS: x && !x.check?.ok && x.startedAt ? Math.round((now - x.startedAt) / 1000) : undefined,
          results: p.results ?? {},
        };
      } catch (e) {
        return { learner: w.learner, url: w.url, passed: false, results: {}, error: `does not answer: ${(e as Error).message}` };
      }
    }),
  );
}

/** A histogram of the class's measured failover times (the kill-the-primary exercise), as inline SVG. */
export function histogramSvg(values: readonly number[], label: string): string {
  if (values.length === 0) return `<p>No ${esc(label)} measured yet.</p>`;
  const bins = new Map<number, number>();
  for (const v of values) bins.set(Math.floor(v), (bins.get(Math.floor(v)) ?? 0) + 1);
  const lo = Math.min(...bins.keys());
  const hi = Math.max(...bins.keys());
  const max = Math.max(...bins.values());
  const w = 36;
  const h = 120;
  const bars: string[] = [];
  for (let b = lo; b <= hi; b++) {
    const n = bins.get(b) ?? 0;
    const bh = (n / max) * h;
    const x = (b - lo) * w + 30;
    bars.push(
      `<rect x="${x}" y="${10 + h - bh}" width="${w - 4}" height="${bh}" fill="#1f5fa8"><title>${n} learner(s): ${b} to ${b + 1} s</title></rect><text x="${x + (w - 4) / 2}" y="${h + 26}" text-anchor="middle" font-size="11">${b}</text>` +
        (n ? `<text x="${x + (w - 4) / 2}" y="${6 + h - bh}" text-anchor="middle" font-size="11">${n}</text>` : ""),
    );
  }
  const width = (hi - lo + 1) * w + 40;
  return `<svg role="img" aria-label="${esc(label)}" width="${width}" height="${h + 40}" viewBox="0 0 ${width} ${h + 40}">${bars.join("")}<text x="30" y="${h + 38}" font-size="11">seconds</text></svg>`;
}

export function classHtml(rows: readonly LearnerRow[], token: string, pace?: number): string {
  const done = (id: string) => rows.filter((r) => r.results[id]?.passed).length;
  const failovers = rows.map((r) => r.results["kill-primary"]?.figures?.writesUnavailableS).filter((v): v is number => typeof v === "number");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3"><title>pgchaos class view</title>
<style>body{font:15px system-ui,sans-serif;margin:20px}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #dde3ea;text-align:left}.ok{color:#2e7d32}.stuck{color:#c62828}</style></head>
<body>
<h1>Class: ${rows.length} learner${rows.length === 1 ? "" : "s"}</h1>
<form method="post" action="/pace"><input type="hidden" name="token" value="${esc(token)}">
Exercises unlocked up to <input name="upTo" type="number" min="1" max="${EXERCISES.length}" value="${pace ?? EXERCISES.length}"> <button>set for everyone</button></form>
<h2>Per exercise</h2>
<table><tr><th>#</th><th>exercise</th><th>done</th><th>working on it</th></tr>
${EXERCISES.map((e, i) => `<tr><td>${i + 1}</td><td>${esc(e.title)}</td><td>${done(e.id)}</td><td>${rows.filter((r) => r.id === e.id && !r.passed).map((r) => esc(r.learner)).join(", ")}</td></tr>`).join("\n")}
</table>
<h2>Learners</h2>
<table><tr><th>learner</th><th>exercise</th><th>status</th></tr>
${rows
  .map(
    (r) =>
      `<tr><td>${esc(r.learner)}</td><td>${r.exercise ?? "–"} ${esc(r.id ?? "")}</td><td class="${r.passed ? "ok" : (r.stuckS ?? 0) > 300 ? "stuck" : ""}">${
        r.error ? esc(r.error) : r.passed ? "✓ done" : `${esc(r.reason ?? "working")}${r.stuckS !== undefined ? ` (${r.stuckS} s)` : ""}`
      }</td></tr>`,
  )
  .join("\n")}
</table>
<h2>The class's measured failover (kill the primary): writes unavailable</h2>
${histogramSvg(failovers, "measured failover times")}
</body></html>
`;
}

/** The instructor's view of every workshop on this machine, on 127.0.0.1. */
export async function serveClass(opts: { port?: number }): Promise<Listening> {
  const token = randomBytes(16).toString("hex");
  let pace: number | undefined;
  const server = createServer((req, res) => {
    const send = (status: number, body: string, type = "text/html; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "content-security-policy": CSP, "cache-control": "no-store" });
      res.end(body);
    };
    if (!/^(127\.0\.0\.1|localhost)(:\d+)?$/.test(String(req.headers.host ?? ""))) return send(421, "127.0.0.1 only\n", "text/plain");
    if (req.method === "GET" && req.url === "/") {
      classRows().then((rows) => send(200, classHtml(rows, token, pace)), (e: Error) => send(500, esc(e.message)));
      return;
    }
    if (req.method === "POST" && req.url === "/pace") {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        const form = new URLSearchParams(body);
        const given = Buffer.from(form.get("token") ?? "");
        if (given.length !== token.length || !timingSafeEqual(given, Buffer.from(token))) return send(403, "wrong token\n", "text/plain");
        const upTo = Number(form.get("upTo"));
        if (!Number.isInteger(upTo) || upTo < 1) return send(400, "upTo: a whole number from 1\n", "text/plain");
        pace = upTo;
        Promise.all(
          liveWorkshops().map((w) =>
            fetch(`http://127.0.0.1:${w.port}/api/pace`, { method: "POST", headers: { "content-type": "application/json", "x-pgchaos-token": w.token }, body: JSON.stringify({ upTo }) }).catch(() => undefined),
          ),
        ).then(() => {
          res.writeHead(303, { location: "/" });
          res.end();
        });
      });
      return;
    }
    send(404, "not found\n", "text/plain");
  });
  await new Promise<void>((ok, ko) => {
    server.once("error", ko);
    server.listen(opts.port ?? 0, "127.0.0.1", () => ok());
  });
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    token,
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
