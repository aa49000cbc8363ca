import { describe, expect, it } from "vitest";
import { history, T0 } from "../checkers/test-history.ts";
import { timelineModel } from "./timeline.ts";
import { renderTimelineSvg } from "./timeline-svg.ts";

/** n1 serves 1-5 on timeline 1, the primary is killed at 60 ms, n2 serves 6-8 on timeline 2 from 300 ms. */
const small = () =>
  history()
    .phase("warm-up", 0)
    .oks(1, 5, 0, 10, "n1")
    .fault("inject", 60, "kill", ["n1"])
    .write(99, "fail", 100)
    .write(100, "info", 150)
    .write(6, "ok", 300, "n2", 2)
    .write(7, "ok", 310, "n2", 2)
    .write(8, "ok", 320, "n2", 2)
    .fault("heal", 400, "kill", ["n1"])
    .probe("n1", "writable", 5)
    .probe("n1", "fail", 205)
    .probe("n2", "read-only", 15)
    .probe("n2", "writable", 215)
    .build();

describe("timelineModel", () => {
  it("buckets acknowledged writes per 100 ms and per serving node", () => {
    const h = small();
    // Timelines on n1's writes, so the switch is visible.
    for (const e of h) if (e.type === "ok" && e.f === "write" && e.node === "n1") e.timeline = 1;
    const m = timelineModel(h);
    expect(m.t0).toBe(T0);
    expect(m.bucketMs).toBe(100);
    expect(m.acked[0]).toEqual({ n1: 5 });
    expect(m.acked[3]).toEqual({ n2: 3 });
    expect(m.failed[1]).toBe(1);
    expect(m.indeterminate[1]).toBe(1);
    expect(m.totals).toEqual({ ok: 8, fail: 1, info: 1 });
    expect(m.nodes).toEqual(["n1", "n2"]);
  });

  it("marks primary changes and timeline switches where the first write says so", () => {
    const h = small();
    for (const e of h) if (e.type === "ok" && e.f === "write" && e.node === "n1") e.timeline = 1;
    const m = timelineModel(h);
    expect(m.primaryChanges).toEqual([{ at: 302, from: "n1", to: "n2" }]);
    expect(m.timelineSwitches).toEqual([{ at: 302, from: 1, to: 2 }]);
  });

  it("pairs fault inject and heal into windows; an unhealed fault runs to the end", () => {
    const m = timelineModel(small());
    expect(m.faults).toEqual([{ from: 60, to: 400, label: "kill primary: n1", healed: true }]);
    const open = timelineModel(history().oks(1, 3, 0, 100, "n1").fault("inject", 50).build());
    expect(open.faults).toEqual([{ from: 50, to: open.spanMs, label: "kill primary: n1 (never healed)", healed: false }]);
  });

  it("turns node probes into state segments per node", () => {
    const m = timelineModel(small());
    expect(m.probes.n1).toEqual([
      { from: 5, to: 205, state: "writable" },
      { from: 205, to: m.spanMs, state: "unreachable" },
    ]);
    expect(m.probes.n2!.map((s) => s.state)).toEqual(["read-only", "writable"]);
  });

  it("widens buckets for long runs so the chart stays drawable", () => {
    const m = timelineModel(history().oks(1, 2, 0, 3_600_000, "n1").build()); // one hour
    expect(m.bucketMs).toBeGreaterThan(100);
    expect(m.bucketMs % 100).toBe(0);
    expect(m.acked.length).toBeLessThanOrEqual(3001);
  });

  it("an empty history gives an empty, drawable model", () => {
    const m = timelineModel([]);
    expect(m.acked.length).toBe(1);
    expect(renderTimelineSvg(m)).toMatch(/^<svg id="timeline"[^]*<\/svg>$/);
  });
});

describe("renderTimelineSvg", () => {
  it("draws one bar path per node, fault window and label, markers, failure ticks and probe bands", () => {
    const h = small();
    for (const e of h) if (e.type === "ok" && e.f === "write" && e.node === "n1") e.timeline = 1;
    const svg = renderTimelineSvg(timelineModel(h));
    expect(svg.match(/<path class="bars" data-node="n1"/g)).toHaveLength(1);
    expect(svg.match(/<path class="bars" data-node="n2"/g)).toHaveLength(1);
    expect(svg).toContain('class="fault-window"');
    expect(svg).toMatch(/class="fault-label"[^>]*><title>[^<]*<\/title>⚡ kill primary: n1<\/text>/);
    expect(svg).toContain('class="primary-change"');
    expect(svg).toContain("primary n1 → n2");
    expect(svg).toContain("timeline 1 → 2");
    expect(svg).toContain('class="ticks-failed"');
    expect(svg).toContain('class="ticks-indeterminate"');
    expect(svg).toContain('<g class="probe-band" data-node="n2">');
    expect(svg).not.toMatch(/<script|href=|url\(/);
  });

  it("draws a smaller chart without the report's id where several share a page", () => {
    const m = timelineModel(small());
    const svg = renderTimelineSvg(m, { width: 420, chartHeight: 110, id: null, className: "timeline small", label: "a <small> one" });
    expect(svg).toMatch(/^<svg class="timeline small" viewBox="0 0 420 \d+" width="420" height="\d+" role="img" aria-label="a &lt;small&gt; one">/);
    expect(svg).not.toContain('id="timeline"');
    expect(svg.match(/<path class="bars"/g)).toHaveLength(2);
    // Every x coordinate stays inside the narrower chart.
    for (const [, x] of svg.matchAll(/ x="(-?[\d.]+)"/g)) expect(Number(x)).toBeLessThanOrEqual(420);
  });

  it("escapes node names and labels", () => {
    const h = history().oks(1, 2, 0, 10, `<n1&"x">`).fault("inject", 5, `k<i>ll`, [`<n1&"x">`]).build();
    const svg = renderTimelineSvg(timelineModel(h));
    expect(svg).not.toContain(`<n1&"x">`);
    expect(svg).toContain("&lt;n1&amp;&quot;x&quot;&gt;");
    expect(svg).toContain("k&lt;i&gt;ll");
  });
});
