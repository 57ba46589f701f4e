import { chmodSync, mkdtempSync, rmSync, statfsSync } from "node:fs";
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

/** RAM-backed file systems the run's temp folders may go to, and the room one must have free. */
const RAM_DISKS = ["/dev/shm"];
const RAM_DISK_MIN_FREE = 4 * 1024 ** 3;

/**
 * For the vitest globalSetup, before anything makes a temp folder: points TMPDIR (and so `tmpdir()`
 * in every worker and process the run starts) at a new folder on a RAM-backed file system with room
 * to spare, removed at the end of the run with whatever tests left in it. The suite copies a PGlite
 * cluster (1,200 files, 40 MB) for each embedded Sluice it starts and removes it after: on this
 * machine's ext4 that took 0.8 s and 0.2 s, on tmpfs 0.09 s and 0.03 s, and PGlite's fsyncs cost
 * nothing. Nothing changes where there is no such file system or where TMPDIR is set already.
 */
export function useRamTempDir(): { dir: string; remove(): void } | undefined {
  if (process.env.TMPDIR) return undefined;
  const disk = RAM_DISKS.find((path) => {
    try {
      const fs = statfsSync(path);
      return fs.type === TMPFS_MAGIC && fs.bavail * fs.bsize >= RAM_DISK_MIN_FREE;
    } catch {
      return false;
    }
  });
  if (!disk) return undefined;
  const dir = mkdtempSync(join(disk, "sluice-tests-"));
  // Traversable by the `postgres` user the harness runs PostgreSQL as (its own folder is its own).
  chmodSync(dir, 0o755);
  process.env.TMPDIR = dir;
  return {
    dir,
    remove: () => {
      delete process.env.TMPDIR;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** statfs(2)'s f_type of tmpfs. */
const TMPFS_MAGIC = 0x01021994;
