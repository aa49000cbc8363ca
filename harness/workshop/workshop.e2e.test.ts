/// <reference lib="dom" />
/**
 * The workshop as people use it, on real clusters: the solver through every exercise (`npm run workshop -- --solve`),
 * and the live page in headless Chromium during the kill-the-primary exercise. One cluster at a time.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leftovers, NOTHING, skipClusterTests } from "../testing/leftovers.ts";
import { EXERCISES } from "./exercises/index.ts";
import { ROOT } from "../e2e/cli-run.ts";

const CHROMIUM = process.env.PGCHAOS_CHROMIUM ?? "/usr/bin/chromium";

function workshop(args: string[], registry: string, out: string): ResultPromise<{ reject: false; all: true; detached: true; cwd: string; env: Record<string, string>; timeout: number }> {
  return execa("node", ["--import", "tsx", "harness/workshop/cli.ts", ...args, "--out", out], {
    cwd: ROOT,
    reject: false,
    all: true,
    detached: true,
    env: { PGCHAOS_WORKSHOP_DIR: registry },
    timeout: 900_000,
  });
}

describe.skipIf(skipClusterTests())("the workshop on a live cluster", () => {
  let registry: string;
  let out: string;

  beforeAll(() => {
    registry = mkdtempSync(join(tmpdir(), "pgchaos-ws-registry-"));
    out = mkdtempSync(join(tmpdir(), "pgchaos-ws-out-"));
  });
  afterAll(() => {
    rmSync(registry, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it("solves every exercise from its starting state, one line each, and leaves nothing", { timeout: 900_000 }, async () => {
    const r = await workshop(["--solve"], registry, out);
    const lines = r.stdout.split("\n").filter((l) => /^[✓✗] +\d+ /.test(l));
    expect(lines.map((l) => l.split(/\s+/)[2])).toEqual(EXERCISES.map((e) => e.id));
    expect(r.all, r.all).toMatch(new RegExp(`all ${EXERCISES.length} exercises passed`));
    expect(r.exitCode).toBe(0);
    expect(await leftovers()).toEqual(NOTHING);
  });

  it("--check brings a cluster up, sees writes acknowledged, says the machine is ready, and leaves nothing", { timeout: 120_000 }, async () => {
    const r = await workshop(["--check"], registry, out);
    expect(r.stdout).toMatch(/^ok: a 3-member cluster came up and acknowledged \d+ writes in [\d.]+ s; this machine is ready for the workshop$/m);
    expect(r.exitCode).toBe(0);
    expect(await leftovers()).toEqual(NOTHING);
  });

  describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)("the live page during kill-the-primary", () => {
    let child: ReturnType<typeof workshop>;
    let context: BrowserContext;
    let profile: string | undefined;
    let page: Page;
    let url = "";
    const foreign: string[] = [];
    const samples: Array<{ holder: string; ttl: string; leaderCard?: string; clock: string; events: string[]; svg: string }> = [];

    beforeAll(async () => {
      child = workshop(["--exercise", String(EXERCISES.findIndex((e) => e.id === "kill-primary") + 1)], registry, out);
      url = await new Promise<string>((ok, ko) => {
        let text = "";
        child.stdout!.on("data", (d: Buffer) => {
          text += d.toString();
          const m = /open (http:\/\/127\.0\.0\.1:\d+\/#t=\w+)/.exec(text);
          if (m) ok(m[1]!);
        });
        child.then((r) => ko(new Error(`the workshop ended before it was ready:\n${r.all}`)));
      });
      profile = mkdtempSync(join(tmpdir(), "pgchaos-ws-browser-"));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        viewport: { width: 1400, height: 1000 },
      });
      const origin = new URL(url).origin;
      // The page may talk to its own server only; anything else is recorded and refused.
      await context.route("**/*", (route) => {
        const u = route.request().url();
        if (u.startsWith(`${origin}/`)) return route.continue();
        foreign.push(u);
        return route.abort();
      });
      page = await context.newPage();
    }, 180_000);

    afterAll(async () => {
      await context?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
      if (child?.pid) process.kill(-child.pid, "SIGINT");
      const r = await child;
      expect(r.exitCode).toBe(130);
      expect(await leftovers()).toEqual(NOTHING);
    }, 60_000);

    async function sample(): Promise<void> {
      samples.push(
        await page.evaluate(() => ({
          holder: document.getElementById("holder")?.textContent ?? "",
          ttl: document.getElementById("ttl")?.textContent ?? "",
          leaderCard: document.querySelector(".card.leader")?.getAttribute("data-member") ?? undefined,
          clock: document.getElementById("clock")?.textContent ?? "",
          events: Array.from(document.querySelectorAll("#events li")).map((li) => `${li.getAttribute("data-kind")}: ${li.textContent}`),
          svg: document.getElementById("timeline")?.innerHTML ?? "",
        })),
      );
    }

    it("shows the failover: the leader card moves, the ttl runs out and resets, failed writes, a timeline switch", { timeout: 180_000 }, async () => {
      await page.goto(url);
      await page.waitForSelector(".card.leader", { timeout: 20_000 });
      await sample();
      const before = samples[0]!;
      expect(before.leaderCard).toBeTruthy();
      expect(before.holder).toBe(before.leaderCard);
      // The learner's way: predict, then click the leader's "kill" button.
      await page.evaluate(async (token) => {
        await fetch("/api/predict", { method: "POST", headers: { "content-type": "application/json", "x-pgchaos-token": token }, body: JSON.stringify({ seconds: 11, who: "test" }) });
      }, new URL(url).hash.slice(3));
      await page.click(`.card[data-member="${before.leaderCard}"] button:has-text("kill")`);
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        await page.waitForTimeout(250);
        await sample();
        if ((await page.textContent("#check"))?.startsWith("✓")) break;
      }
      expect(await page.textContent("#check")).toMatch(/^✓ .* you predicted 11 s/);
      const last = samples[samples.length - 1]!;
      expect(last.leaderCard).toBeTruthy();
      expect(last.leaderCard).not.toBe(before.leaderCard);
      // The old leader's ttl fell (no renewals), and the new leader's key started full.
      const seconds = (xs: typeof samples) => xs.map((s) => Number.parseFloat(s.ttl)).filter(Number.isFinite);
      const ttls = seconds(samples.filter((s) => s.holder === before.leaderCard));
      expect(Math.min(...ttls)).toBeLessThanOrEqual(4);
      const fresh = seconds(samples.filter((s) => s.holder === last.leaderCard));
      expect(Math.max(...fresh)).toBeGreaterThanOrEqual(8);
      expect(samples.some((s) => s.clock.startsWith("writes unavailable"))).toBe(true);
      expect(last.svg).toContain('class="ticks-failed"');
      expect(last.svg).toMatch(/class="timeline-label"[^>]*>.*timeline 1 → 2/);
      expect(last.events.some((e) => e.startsWith("promotion:") && e.includes(last.leaderCard!))).toBe(true);
      expect(last.events.some((e) => e.startsWith("leader-race:"))).toBe(true);
      expect(foreign).toEqual([]);
    });

    it("ws from the learner's side: status, a command in a member's network, an error that says what to do", { timeout: 60_000 }, async () => {
      const ws = (...args: string[]) => execa("node", ["--import", "tsx", "harness/workshop/ws.ts", ...args], { cwd: ROOT, reject: false, env: { PGCHAOS_WORKSHOP_DIR: registry } });
      const status = await ws("status");
      expect(status.stdout).toMatch(/^exercise \d+: Kill the primary\n {2}check: ✓/);
      const list = await ws("exec", "n2", "--", "patronictl", "list");
      expect(list.exitCode).toBe(0);
      for (const n of ["n1", "n2", "n3"]) expect(list.stdout).toContain(` ${n} `);
      const inside = await ws("exec", "n3", "--", "ws", "addr", "n3");
      expect(inside.stdout.trim()).toMatch(/^10\.\d+\.\d+\.3$/);
      const bad = await ws("kill", "n7");
      expect(bad.stderr).toContain('"n7" is not a member: say primary, replica or one of n1, n2, n3');
      expect(bad.exitCode).toBe(2);
    });

    it("projector mode: large type, the same cluster, a screenshot that shows it", { timeout: 60_000 }, async () => {
      await page.click("#projector");
      const size = await page.evaluate(() => Number.parseFloat(getComputedStyle(document.querySelector(".card h3")!).fontSize));
      expect(size).toBeGreaterThanOrEqual(28);
      const file = join(out, "projector.png");
      await page.screenshot({ path: file, fullPage: true });
      const png = readFileSync(file);
      expect(png.subarray(1, 4).toString()).toBe("PNG");
      // Full-page in large type: taller than the 1000 px viewport, and far from blank.
      expect(png.readUInt32BE(20)).toBeGreaterThan(1000);
      expect(statSync(file).size).toBeGreaterThan(50_000);
      expect(foreign).toEqual([]);
    });
  });
});
