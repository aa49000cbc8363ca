/**
 * Opens a real report.html in headless Chromium (Debian's, driven by playwright-core through its
 * executablePath) and checks from the DOM and a screenshot that the chart and the verdict table render.
 * The browser gets a fresh empty profile, no network services, and only loads the local file.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Verdict } from "../scenario/verdict.ts";
import { writeRunDir } from "./test-run.ts";
import { writeReports } from "./write.ts";

/** Debian's chromium; PGCHAOS_CHROMIUM points elsewhere (another distribution's path). */
const CHROMIUM = process.env.PGCHAOS_CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const present = existsSync(CHROMIUM);
// In CI a missing browser is a failure (setup installs it), not a reason to skip.
const skip = !present && !process.env.CI;
if (skip) {
  process.stdout.write(`browser test skipped: ${CHROMIUM} is missing and CI is not set (install it with \`apt-get install -y chromium\` or \`npm run setup\`)\n`);
}

describe.skipIf(skip)("report.html in headless Chromium", () => {
  let dir: string;
  let profile: string;
  let context: BrowserContext;
  let verdict: Verdict;
  const requests: string[] = [];

  beforeAll(async () => {
    if (!present) return; // the test itself fails, so the failure is counted as a test's
    dir = mkdtempSync(join(tmpdir(), "pgchaos-browser-run-"));
    profile = mkdtempSync(join(tmpdir(), "pgchaos-browser-profile-")); // new and empty: --user-data-dir
    verdict = writeRunDir(dir);
    await writeReports(dir);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1300, height: 900 },
      offline: true,
    });
    // Only the local file may load; anything else is recorded and refused.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file://")) return route.continue();
      requests.push(url);
      return route.abort();
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it(
    "renders the chart per node, the fault window label and a verdict row per check; the screenshot is a real picture",
    async () => {
      expect(present, `${CHROMIUM} is missing: CI must install Debian's chromium (scripts/setup.sh does)`).toBe(true);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await page.goto(pathToFileURL(join(dir, "report.html")).href);

      // Chart: a non-empty bar path per node that served writes, drawn with a real size.
      const svg = page.locator("svg#timeline");
      await expect(svg.count()).resolves.toBe(1);
      for (const node of ["n1", "n2"]) {
        const bars = page.locator(`svg#timeline path.bars[data-node="${node}"]`);
        await expect(bars.count()).resolves.toBe(1);
        const box = await bars.boundingBox();
        expect(box, `bars of ${node}`).not.toBeNull();
        expect(box!.width).toBeGreaterThan(50);
        expect(box!.height).toBeGreaterThan(20);
        expect(await page.locator(`svg#timeline g.probe-band[data-node="${node}"] rect`).count()).toBeGreaterThan(0);
      }
      const faultLabel = page.locator("svg#timeline text.fault-label");
      expect(await faultLabel.textContent()).toContain("kill primary: n1");
      expect((await page.locator("svg#timeline rect.fault-window").boundingBox())!.width).toBeGreaterThan(50);
      expect(await page.locator("svg#timeline text.primary-label").textContent()).toContain("primary n1 → n2");
      expect(await page.locator("svg#timeline text.timeline-label").textContent()).toContain("timeline 1 → 2");
      expect(await page.locator("svg#timeline path.ticks-failed").count()).toBe(1);

      // Verdict table: one row per check, in order, each with its result.
      const rows = page.locator("#verdict tbody tr[data-check]");
      expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-check")))).toEqual(Object.keys(verdict.checks));
      expect(await page.locator("#verdict tbody tr[data-check] .badge").allTextContents()).toEqual(Object.values(verdict.checks).map(() => "PASS"));
      expect(await page.locator("#settings").isVisible()).toBe(true);

      const shot = join(dir, "report.png");
      await page.screenshot({ path: shot, fullPage: true });
      const png = readFileSync(shot);
      expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
      expect(statSync(shot).size).toBeGreaterThan(10 * 1024);
      if (process.env.PGCHAOS_SCREENSHOT) copyFileSync(shot, process.env.PGCHAOS_SCREENSHOT);

      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      await page.close();
    },
    60_000,
  );
});
