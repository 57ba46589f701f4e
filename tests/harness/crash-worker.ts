import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { freshPostgresDatabase, redisUrl } from "./databases.ts";
import { compiledFixture } from "./fixtures.ts";
import { seedPgliteDataDir } from "./pglite-template.ts";
import { fileTempDir } from "./temp-dirs.ts";
import { spawnTracked } from "./processes.ts";

/**
 * The SIGKILL tests' worker processes: a compiled fixture (tests/fixtures/*-crash-worker.ts) that
 * reports on stdout one JSON object per line ({"event": ...}); an {"event":"error"} line fails
 * every wait at once, so a fixture's own failure is the test's message rather than a timeout.
 */
export interface WorkerEvent {
  event: string;
  message?: string;
}

export interface CrashWorker<E extends WorkerEvent> {
  process: ChildProcess;
  /** Every event so far, in order. */
  events: E[];
  exited: Promise<number | null>;
  /** Resolves once `check` holds over the events; rejects on an error event, the process's exit or the timeout. */
  waitFor(check: (events: E[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** The first event of this kind, waiting for it as `waitFor` does. */
  waitForEvent(kind: string, timeoutMs?: number): Promise<E>;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
}

/** Starts `tests/fixtures/<fixture>.ts` (compiled) with this environment on top of the test's own. */
export function startCrashWorker<E extends WorkerEvent>(fixture: string, env: Record<string, string>): CrashWorker<E> {
  // Liftoff only, as the test workers run: a fixture lives seconds and runs a few statements on
  // PGlite, which V8's optimising compiler would recompile on background threads for nothing.
  const child = spawnTracked(process.execPath, ["--liftoff-only", compiledFixture(fixture)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: E[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      events.push(JSON.parse(line) as E);
    } catch {
      // a library's own line, not an event
    }
  });
  let gone = false;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  void exited.then(() => (gone = true));

  async function waitFor(check: (events: E[]) => boolean, what: string, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const failure = events.find((e) => e.event === "error");
      if (failure) throw new Error(`${fixture} failed: ${failure.message}`);
      if (check(events)) return;
      const tail = `events: ${JSON.stringify(events.slice(-20))}; stderr: ${stderr.slice(-2000)}`;
      if (gone) throw new Error(`${fixture} exited before ${what}; ${tail}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ${tail}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  return {
    process: child,
    events,
    exited,
    waitFor,
    async waitForEvent(kind, timeoutMs) {
      await waitFor((all) => all.some((e) => e.event === kind), `a "${kind}" event`, timeoutMs);
      return events.find((e) => e.event === kind)!;
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Short lock and stall-check times, so a SIGKILLed worker's jobs are taken over in seconds. */
export const CRASH_TIMING = { QUEUE_LOCK_DURATION_MS: "2000", QUEUE_STALLED_INTERVAL_MS: "1000", ACTIONS_LEASE_MS: "1000" };

/**
 * A new embedded data folder (PGlite, from the run's template), removed after the test file (not
 * the test: onTestFinished would bind to another test when suites run at once).
 */
export function embeddedBackend(prefix: string): Record<string, string> {
  const dir = fileTempDir(prefix);
  seedPgliteDataDir(join(dir, "pgdata"));
  return { SLUICE_DATA_DIR: dir };
}

/** PostgreSQL for both queues and store (DATABASE_URL without REDIS_URL), in a fresh database. */
export async function postgresBackend(prefix: string): Promise<Record<string, string>> {
  return { DATABASE_URL: await freshPostgresDatabase(prefix), QUEUE_BACKEND: "postgres", VECTOR_SEARCH_ENABLED: "false" };
}

/** Redis queues (logical database `redisDb`, emptied first) and a fresh PostgreSQL store. */
export async function redisBackend(prefix: string, redisDb: number): Promise<Record<string, string>> {
  const url = redisUrl(redisDb);
  const redis = new Redis(url);
  await redis.flushdb();
  await redis.quit();
  return { DATABASE_URL: await freshPostgresDatabase(prefix), REDIS_URL: url, QUEUE_BACKEND: "redis", VECTOR_SEARCH_ENABLED: "false" };
}
