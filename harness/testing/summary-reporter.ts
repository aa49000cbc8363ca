import type { Reporter } from "vitest/node";

interface TaskLike {
  type: string;
  mode?: string;
  result?: { state?: string };
  tasks?: TaskLike[];
}

/**
 * Ends the test output with one plain line, "N passed, N failed, N skipped", that any CI log reader
 * understands, after vitest's own summary (which vitest prints in onFinished, hence this hook).
 */
export default class SummaryReporter implements Reporter {
  onFinished(files: TaskLike[] = [], errors: unknown[] = []): void {
    const count = { passed: 0, failed: 0, skipped: 0 };
    const walk = (t: TaskLike) => {
      if (t.type === "test") {
        if (t.result?.state === "pass") count.passed++;
        else if (t.result?.state === "fail") count.failed++;
        else count.skipped++;
      }
      t.tasks?.forEach(walk);
    };
    for (const f of files) {
      // A file that failed to load or whose hooks failed has a failed result of its own.
      if (f.result?.state === "fail" && !(f.tasks ?? []).some((t) => t.result?.state === "fail")) count.failed++;
      walk(f);
    }
    count.failed += errors.length;
    process.stdout.write(`\n${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped\n`);
  }
}
