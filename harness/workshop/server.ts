import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { timelineModel } from "../report/timeline.ts";
import { renderTimelineSvg } from "../report/timeline-svg.ts";
import { errorMessage, UsageError } from "../util/errors.ts";
import type { HistoryEntry } from "../history/types.ts";
import type { ExerciseStatus } from "./workshop.ts";
import type { Figures, Snapshot, WorkshopEvent } from "./types.ts";
import { CSP, PAGE_CSS, PAGE_JS, pageHtml } from "./page.ts";

/** What the page shows, whatever feeds it: a live workshop or a stored run played back. */
export interface PagePayload {
  mode: "live" | "replay";
  stack?: string;
  runDir?: string;
  snapshot?: Snapshot;
  exercise?: ExerciseStatus;
  events: WorkshopEvent[];
  timelineSvg?: string;
  poll?: { predictions: Array<{ who: string; seconds: number }>; measured?: number };
  /** Per exercise id: whether it was passed, and what it measured (the class view reads these). */
  results?: Record<string, { passed: boolean; figures?: Figures; at: number }>;
}

export interface PageSource {
  payload(): PagePayload;
  onChange(l: () => void): () => void;
  /** Handles a POST /api/<verb>; absent for a replay (read-only). */
  act?(verb: string, body: Record<string, unknown>): Promise<unknown>;
  /** GET /api/shell?node=: a learner's shell environment (secret: it holds the password). */
  shell?(node: string): unknown;
}

/** The last `windowMs` of the history as the report draws it; entries are in time order, so a binary search finds the start. */
export function timelineSvgOf(entries: readonly HistoryEntry[], windowMs = 60_000, now = Date.now()): string | undefined {
  let lo = 0;
  let hi = entries.length;
  const from = now - windowMs;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid]!.time < from) lo = mid + 1;
    else hi = mid;
  }
  const recent = entries.slice(lo);
  if (!recent.some((e) => e.f === "write")) return undefined;
  return renderTimelineSvg(timelineModel(recent), { width: 1200, chartHeight: 150, id: "live-timeline", label: "writes over the last minute" });
}

export interface Listening {
  server: Server;
  port: number;
  token: string;
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the page on 127.0.0.1 only, on a port the system picks (or `port`). Reads are open to the machine; every
 * action needs the workshop's token (in the printed URL's fragment, and in the registry file `ws` reads), so
 * another user of a shared server cannot drive your cluster.
 */
export async function serve(source: PageSource, opts: { port?: number; title: string }): Promise<Listening> {
  const token = randomBytes(16).toString("hex");
  const clients = new Set<ServerResponse>();
  let pending: NodeJS.Timeout | undefined;
  const push = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = undefined;
      if (clients.size === 0) return;
      const data = `event: state\ndata: ${JSON.stringify(source.payload())}\n\n`;
      for (const c of clients) c.write(data);
    }, 200);
  };
  const off = source.onChange(push);
  const authorised = (req: IncomingMessage) => {
    const given = Buffer.from(String(req.headers["x-pgchaos-token"] ?? ""));
    const want = Buffer.from(token);
    return given.length === want.length && timingSafeEqual(given, want);
  };
  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { "content-type": type, "content-security-policy": CSP, "cache-control": "no-store", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, body: unknown) => send(res, status, "application/json", JSON.stringify(body));

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    // A page of another origin must not read or drive the workshop (DNS rebinding names some other host).
    const host = String(req.headers.host ?? "");
    if (!/^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host)) return send(res, 421, "text/plain", "this workshop answers on 127.0.0.1 only\n");
    if (req.method === "GET") {
      if (url.pathname === "/") return send(res, 200, "text/html; charset=utf-8", pageHtml(opts.title));
      if (url.pathname === "/app.js") return send(res, 200, "text/javascript; charset=utf-8", PAGE_JS);
      if (url.pathname === "/app.css") return send(res, 200, "text/css; charset=utf-8", PAGE_CSS);
      if (url.pathname === "/api/state") return json(res, 200, source.payload());
      if (url.pathname === "/api/shell") {
        if (!authorised(req)) return json(res, 403, { error: "the workshop's token is missing or wrong" });
        try {
          return json(res, 200, source.shell?.(url.searchParams.get("node") ?? "n1"));
        } catch (e) {
          return json(res, 400, { error: errorMessage(e) });
        }
      }
      if (url.pathname === "/events") {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", "content-security-policy": CSP, connection: "keep-alive" });
        res.write(`event: state\ndata: ${JSON.stringify(source.payload())}\n\n`);
        clients.add(res);
        req.on("close", () => clients.delete(res));
        return;
      }
      return send(res, 404, "text/plain", "not found\n");
    }
    if (req.method === "POST" && url.pathname.startsWith("/api/")) {
      if (!authorised(req)) return json(res, 403, { error: "the workshop's token is missing or wrong" });
      if (!source.act) return json(res, 405, { error: "a replay cannot be changed" });
      let body = "";
      req.on("data", (d: Buffer) => {
        body += d.toString("utf8");
        if (body.length > 65_536) req.destroy();
      });
      req.on("end", () => {
        let args: Record<string, unknown>;
        try {
          args = body ? (JSON.parse(body) as Record<string, unknown>) : {};
        } catch {
          return json(res, 400, { error: "the body is not JSON" });
        }
        source.act!(url.pathname.slice(5), args).then(
          (out) => {
            push();
            json(res, 200, { ok: true, out });
          },
          (e: unknown) => json(res, e instanceof UsageError ? 400 : 500, { error: errorMessage(e) }),
        );
      });
      return;
    }
    send(res, 405, "text/plain", "method not allowed\n");
  });
  await new Promise<void>((ok, ko) => {
    server.once("error", ko);
    server.listen(opts.port ?? 0, "127.0.0.1", () => ok());
  });
  const port = (server.address() as { port: number }).port;
  const keepAlive = setInterval(() => {
    for (const c of clients) c.write(": keep-alive\n\n");
  }, 15_000);
  return {
    server,
    port,
    token,
    url: `http://127.0.0.1:${port}/#t=${token}`,
    close: async () => {
      off();
      clearInterval(keepAlive);
      if (pending) clearTimeout(pending);
      for (const c of clients) c.end();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
