import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two cores: more parallel files only thrash the real servers each file starts.
    maxWorkers: 2,
    globalSetup: ["tests/harness/global-setup.ts"],
  },
});
