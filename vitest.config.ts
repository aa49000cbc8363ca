import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["harness/**/*.test.ts", "scripts/**/*.test.ts", "scenarios/**/*.test.ts"],
    // Integration and end-to-end tests each run a real cluster; this 2-core machine fits one at a time.
    fileParallelism: false,
    testTimeout: 10_000,
    hookTimeout: 120_000,
    reporters: ["default", "./harness/testing/summary-reporter.ts"],
  },
});
