import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// One list per OS process, shared by every copy of this module (vitest re-imports modules per file).
const DIRS_KEY = Symbol.for("sluice.harness.fileTempDirs");
const dirs: string[] = ((globalThis as Record<symbol, string[] | undefined>)[DIRS_KEY] ??= []);

/**
 * A new folder under the system temp dir, removed after the current test file (setup-file.ts),
 * once the processes the file started are stopped: a `sluice dev` folder or a PGlite cluster is
 * tens of MB, and a run makes hundreds.
 */
export function fileTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** For setup-file.ts: removes every folder fileTempDir made since the last call. */
export function removeFileTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
