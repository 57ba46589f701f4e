import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two cores: more parallel files only thrash the real servers each file starts (3 workers measured no faster).
    maxWorkers: 2,
    // Each worker process runs many files and keeps its loaded modules: a new process per file spent
    // about a third of a small file's CPU importing the same modules again. Safe here because no test
    // mocks a module or changes process.env, and every file closes what it opened (setup-file.ts).
    isolate: false,
    // Builds dist/ and starts the run's Redis and PostgreSQL; its teardown kills what workers left.
    globalSetup: ["tests/harness/global-setup.ts"],
    // Stops every process a file started (sluice, redis-server, postgres) after its own hooks.
    setupFiles: ["tests/harness/setup-file.ts"],
  },
});
