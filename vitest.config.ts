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
    // The workers open hundreds of short-lived PGlite clusters, whose WebAssembly V8 would recompile
    // with its optimising compiler on background threads; a test's few statements never pay that
    // back. Liftoff only: the same code, compiled once, without optimising (5 PGlite-heavy files:
    // 95 s of CPU with V8's defaults, 90 s with bin/node-flags.js's budget, 79 s with this).
    execArgv: ["--liftoff-only"],
    // Builds dist/ and starts the run's Redis and PostgreSQL; its teardown kills what workers left.
    globalSetup: ["tests/harness/global-setup.ts"],
    // Stops every process a file started (sluice, redis-server, postgres) after its own hooks.
    setupFiles: ["tests/harness/setup-file.ts"],
  },
});
