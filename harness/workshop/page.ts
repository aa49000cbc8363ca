/**
 * The workshop's live page: no external asset, no inline script (the Content-Security-Policy forbids both), one
 * Server-Sent Events stream. Member cards, the leader key's ttl counting down, the write timeline of the report,
 * the failover as numbered events from the members' logs, a "writes unavailable" clock, and the exercise with its
 * check and hints. `?projector` (or the button) switches to large type for a room.
 */

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function pageHtml(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title.replace(/[<&>"]/g, "")}</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>pgchaos workshop <span id="mode"></span></h1>
  <div id="clock" class="clock ok" title="how long writes through the primary service have been failing">writes ok</div>
  <button id="projector" type="button">projector</button>
</header>
<main>
  <section id="exercise" aria-live="polite"></section>
  <section id="cluster">
    <div id="leaderkey" class="leaderkey"></div>
    <div id="members" class="members"></div>
    <div id="actions" class="actions"></div>
  </section>
  <section id="timeline-box"><h2>Writes through the primary service, and each member's own probe</h2><div id="timeline" class="chart"></div></section>
  <section id="events-box"><h2>What happened</h2><ol id="events" class="events"></ol></section>
  <section id="poll-box" hidden><h2>Predictions</h2><div id="poll"></div></section>
</main>
</body>
</html>
`;
}

export const PAGE_CSS = `
:root{--ok:#2e7d32;--bad:#c62828;--warn:#ef6c00;--muted:#5f6b7a;--line:#dde3ea;--leader:#1f5fa8}
*{box-sizing:border-box}
body{margin:0;background:#f5f7fa;color:#1d2733;font:14px/1.45 system-ui,sans-serif}
header{display:flex;align-items:center;gap:16px;padding:10px 20px;background:#fff;border-bottom:1px solid var(--line)}
header h1{font-size:18px;margin:0;flex:1}
main{max-width:1280px;margin:0 auto;padding:12px 20px 40px;display:grid;grid-template-columns:1fr 1fr;gap:14px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 14px}
#exercise,#timeline-box{grid-column:1 / span 2}
h2{font-size:15px;margin:0 0 8px}
.clock{font-weight:700;padding:4px 12px;border-radius:14px;color:#fff;font-variant-numeric:tabular-nums}
.clock.ok{background:var(--ok)}.clock.bad{background:var(--bad)}
.members{display:grid;grid-template-columns:repeat(3,1fr);gap:10px}
.card{border:2px solid var(--line);border-radius:8px;padding:8px 10px;cursor:default}
.card.leader{border-color:var(--leader);box-shadow:0 0 0 2px #1f5fa833}
.card.down{opacity:.55}
.card h3{margin:0 0 4px;font-size:16px}
.card .role{font-weight:700;text-transform:uppercase;font-size:12px;letter-spacing:.04em}
.card.leader .role{color:var(--leader)}
.card dl{display:grid;grid-template-columns:auto 1fr;gap:0 8px;margin:4px 0;font-size:12px}
.card dt{color:var(--muted)}.card dd{margin:0;font-variant-numeric:tabular-nums}
.probe{display:inline-block;padding:0 6px;border-radius:8px;color:#fff;font-size:11px}
.probe.writable{background:var(--ok)}.probe.read-only{background:#90a4ae}.probe.unreachable{background:var(--bad)}
.fault{color:var(--bad);font-weight:700}
.card button{font-size:11px;margin:2px 2px 0 0}
.leaderkey{margin-bottom:8px;display:flex;align-items:center;gap:10px}
.ttlbar{flex:1;height:10px;background:#e8edf2;border-radius:5px;overflow:hidden}
.ttlbar span{display:block;height:100%;background:var(--leader);transition:width .4s linear}
.events{margin:0;padding-left:22px;max-height:320px;overflow:auto;font-size:13px}
.events li.promotion{color:var(--leader);font-weight:600}.events li.lock-expired,.events li.fault{color:var(--bad)}
.events time{color:var(--muted);font-variant-numeric:tabular-nums;margin-right:6px}
.check{padding:6px 10px;border-radius:6px;margin:8px 0}
.check.ok{background:#e8f5e9;color:var(--ok)}.check.bad{background:#fff3e0;color:#8a4b00}
.text p{margin:4px 0}.text pre{background:#f3f5f8;padding:4px 8px;border-radius:4px;margin:4px 0;overflow:auto}
code,pre{font:12px/1.4 ui-monospace,monospace}
.figures td,.figures th{padding:2px 10px 2px 0;text-align:left}
.out{color:var(--bad)}
.chart svg{width:100%;height:auto;display:block}
.hbar{display:flex;align-items:flex-end;gap:4px;height:120px}.hbar div{background:var(--leader);width:24px}
body.projector{font-size:22px}
body.projector main{max-width:none}
body.projector .card h3{font-size:30px}body.projector .card dl{font-size:20px}
body.projector .events{font-size:22px;max-height:none}
body.projector header h1{font-size:28px}body.projector .clock{font-size:28px}
body.projector .text pre,body.projector code{font-size:18px}
`;

/** The page's script. It never builds HTML from data: text goes in with textContent, so a member name cannot inject. */
export const PAGE_JS = `
"use strict";
const params = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
const token = params.get("t") || "";
if (params.has("projector")) document.body.classList.add("projector");
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== undefined && k !== null) e.append(k instanceof Node ? k : String(k));
  return e;
}
async function act(verb, body) {
  const res = await fetch("/api/" + verb, { method: "POST", headers: { "content-type": "application/json", "x-pgchaos-token": token }, body: JSON.stringify(body || {}) });
  const j = await res.json().catch(() => ({}));
  if (!res.ok) alert(j.error || res.statusText);
  return j;
}
$("projector").addEventListener("click", () => document.body.classList.toggle("projector"));
const secs = (ms) => (ms / 1000).toFixed(1) + " s";
function renderExercise(x) {
  const box = $("exercise");
  if (!x) { box.replaceChildren(el("p", {}, "replaying a stored run")); return; }
  const text = el("div", { class: "text" });
  for (const line of x.text.split("\\n")) text.append(line.startsWith("$ ") ? el("pre", {}, line) : el("p", {}, line));
  const check = x.check ? el("div", { class: "check " + (x.check.ok ? "ok" : "bad"), id: "check" }, x.check.ok ? "✓ " + (x.check.detail || "done") : "✗ " + x.check.reason) : el("div", { id: "check" }, "not checked yet");
  const figs = el("table", { class: "figures" });
  for (const [k, r] of Object.entries(x.ranges || {})) {
    const v = x.figures ? x.figures[k] : undefined;
    const out = v !== undefined && (v < r.min || v > r.max);
    figs.append(el("tr", {}, el("th", {}, k), el("td", { class: out ? "out" : "" }, v === undefined ? "–" : String(v)), el("td", {}, "expected " + r.min + " to " + r.max), el("td", {}, out ? r.why : "")));
  }
  const hints = el("ul", {}, ...x.hints.map((h) => el("li", {}, h)));
  const buttons = el("div", { class: "actions" },
    el("button", { onclick: () => act("check") }, "check"),
    el("button", { onclick: () => act("hint") }, "hint"),
    el("button", { onclick: () => act("skip") }, "skip (run the solution)"),
    el("button", { onclick: () => act("reset") }, "reset"),
    el("button", { onclick: () => act("goto", { exercise: x.index - 1 }), disabled: x.index <= 1 ? "" : null }, "previous"),
    el("button", { onclick: () => act("goto", { exercise: x.index + 1 }), id: "next" }, x.locked ? "next (locked)" : "next"));
  if (x.index <= 1) buttons.children[4].disabled = true;
  if (x.locked || x.index >= x.count) buttons.children[5].disabled = true;
  box.replaceChildren(el("h2", {}, "Exercise " + x.index + " of " + x.count + ": " + x.title), el("p", { class: "topic" }, x.topic), text, check,
    x.prediction !== undefined ? el("p", {}, "your prediction: " + x.prediction + " s") : "", figs, hints, buttons);
}
function renderCluster(s) {
  const key = s.leaderKey || {};
  const ttl = key.ttl !== undefined ? key.ttl : undefined;
  const bar = el("div", { class: "ttlbar" }, el("span", { style: "width:" + (ttl === undefined ? 0 : Math.max(0, Math.min(100, (100 * ttl) / (key.grantedTtl || s.ttl)))) + "%" }));
  $("leaderkey").replaceChildren(el("strong", {}, "leader key: "), el("span", { id: "holder" }, key.holder || "nobody"), bar, el("span", { id: "ttl" }, ttl === undefined ? "–" : ttl + " s of " + (key.grantedTtl || s.ttl)));
  const cards = s.members.map((m) => {
    const c = el("div", { class: "card " + (m.role === "leader" ? "leader" : "") + (m.role === "down" ? " down" : ""), "data-member": m.name, "data-role": m.role },
      el("h3", {}, m.name + " ", el("span", { class: "role" }, m.role)),
      el("dl", {},
        el("dt", {}, "state"), el("dd", {}, m.state),
        el("dt", {}, "Patroni"), el("dd", {}, m.patroniUp ? "up" : "down"),
        el("dt", {}, "PostgreSQL"), el("dd", {}, m.postgresUp ? "up" : "down"),
        el("dt", {}, "timeline"), el("dd", {}, m.timeline === undefined ? "–" : String(m.timeline)),
        el("dt", {}, "lag"), el("dd", {}, m.lagBytes === undefined ? "–" : m.lagBytes + " B"),
        el("dt", {}, "probe"), el("dd", {}, m.probe ? el("span", { class: "probe " + m.probe.state }, m.probe.state) : "–")),
      m.fault ? el("div", { class: "fault" }, "fault: " + m.fault) : "",
      el("button", { onclick: () => act("kill", { target: m.name }) }, "kill"),
      el("button", { onclick: () => act("pause", { target: m.name }) }, "pause"),
      el("button", { onclick: () => act("isolate", { target: m.name }) }, "isolate"),
      el("button", { onclick: () => act("start", { target: m.name }) }, "start"));
    return c;
  });
  $("members").replaceChildren(...cards);
  $("actions").replaceChildren(el("button", { onclick: () => act("heal") }, "heal every fault"));
  const w = s.writes;
  const clock = $("clock");
  if (w.unavailableMs !== undefined) { clock.className = "clock bad"; clock.textContent = "writes unavailable " + secs(w.unavailableMs); }
  else { clock.className = "clock ok"; clock.textContent = "writes ok (" + w.ok + " acknowledged, " + w.fail + " failed)"; }
}
function renderEvents(events) {
  const list = events.map((e) => el("li", { class: e.kind, "data-kind": e.kind }, el("time", {}, new Date(e.time).toISOString().slice(11, 23)), e.text));
  $("events").replaceChildren(...list);
}
function renderPoll(p) {
  if (!p || p.predictions.length === 0) { $("poll-box").hidden = true; return; }
  $("poll-box").hidden = false;
  const max = Math.max(...p.predictions.map((x) => x.seconds), p.measured || 0, 1);
  const bars = el("div", { class: "hbar" }, ...p.predictions.map((x) => el("div", { title: x.who + ": " + x.seconds + " s", style: "height:" + (100 * x.seconds) / max + "%" })));
  $("poll").replaceChildren(bars, el("p", {}, p.predictions.length + " predictions" + (p.measured !== undefined ? "; measured " + p.measured + " s" : "")));
}
function render(d) {
  $("mode").textContent = d.mode === "replay" ? "(replay of " + d.runDir + ")" : d.stack ? "(" + d.stack + ")" : "";
  renderExercise(d.exercise);
  if (d.snapshot) renderCluster(d.snapshot);
  renderEvents(d.events || []);
  if (d.timelineSvg !== undefined) { const t = document.createElement("template"); t.innerHTML = d.timelineSvg; $("timeline").replaceChildren(t.content); }
  renderPoll(d.poll);
  document.body.dataset.updated = String(Date.now());
}
const es = new EventSource("/events");
es.addEventListener("state", (ev) => render(JSON.parse(ev.data)));
`;
