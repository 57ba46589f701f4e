import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two cores: more parallel files only thrash the real servers each file starts.
    maxWorkers: 2,
    // Builds dist/ and starts the run's Redis and PostgreSQL; its teardown kills what workers left.
    globalSetup: ["tests/harness/global-setup.ts"],
    // Stops every process a file started (sluice, redis-server, postgres) after its own hooks.
    setupFiles: ["tests/harness/setup-file.ts"],
  },
});
