/**
 * Runs in every test file (vitest `setupFiles`). Registered before the file's own hooks, its
 * afterAll runs after theirs: whatever they did not stop (a setup that failed or timed out before
 * it returned a handle) is stopped here, so no sluice, redis-server or postgres outlives its file;
 * nor does a folder it asked fileTempDir for.
 */
import { afterAll } from "vitest";
import { stopAllTracked } from "./processes.ts";
import { removeFileTempDirs } from "./temp-dirs.ts";

afterAll(async () => {
  await stopAllTracked();
  removeFileTempDirs();
});
