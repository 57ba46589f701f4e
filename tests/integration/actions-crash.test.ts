import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGithub, type FakeGithub } from "../fakes/github-server.ts";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { compiledFixture } from "../harness/fixtures.ts";
import { seedPgliteDataDir } from "../harness/pglite-template.ts";
import { spawnTracked } from "../harness/processes.ts";

/**
 * At most once per idempotency key, with real worker processes SIGKILLed mid-call, on each
 * backend (PGlite; PostgreSQL; Redis queues + PostgreSQL). N jobs each run github.issue.create
 * against the fake GitHub, which holds three calls open forever; the worker is killed while they
 * hang. Then fresh workers (two at once on the servers) take the stalled jobs over. The fake
 * counts the calls: no key is called twice. The held calls' outcomes are `unknown` (a person
 * decides), never re-run, as is a call answered just before the kill; every other key succeeded,
 * with exactly one call. Redis logical database 21.
 */
const N = 20;
const HELD = [5, 6, 7];
const TOKEN = "ghp_crash_test_token";
const WORKSPACE = "ws-crash";
const TIMING = { QUEUE_LOCK_DURATION_MS: "2000", QUEUE_STALLED_INTERVAL_MS: "1000", ACTIONS_LEASE_MS: "1000" };

interface ChildEvent {
  event: string;
  key?: string;
  status?: string;
  message?: string;
  statuses?: Record<string, number>;
}

interface Child {
  process: ChildProcess;
  events: ChildEvent[];
  exited: Promise<number | null>;
  waitFor(check: (events: ChildEvent[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
}

function startWorker(env: Record<string, string>, config: Record<string, unknown>): Child {
  const child = spawnTracked(process.execPath, [compiledFixture("actions-crash-worker")], {
    env: { ...process.env, ...env, ACTIONS_CRASH_CONFIG: JSON.stringify({ workspace: WORKSPACE, concurrency: 4, ...config }) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: ChildEvent[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      events.push(JSON.parse(line) as ChildEvent);
    } catch {
      // a library's own line
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  return {
    process: child,
    events,
    exited,
    async waitFor(check, what, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const failure = events.find((e) => e.event === "error");
        if (failure) throw new Error(`worker failed: ${failure.message}`);
        if (check(events)) return;
        if (gone) throw new Error(`worker exited before ${what}; stderr: ${stderr.slice(-2000)}`);
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events.slice(-20))}; stderr: ${stderr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

let github: FakeGithub;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  github = await startFakeGithub(TOKEN);
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await github?.close();
});

const titlesCalled = (): string[] => github.requests.filter((r) => r.method === "POST").map((r) => (r.json as { title: string }).title);

/** Phase 1 submits N jobs and is SIGKILLed with HELD calls in flight; phase 2 finishes; returns each key's ledger status. */
async function crashAndFinish(env: Record<string, string>, finishers: number): Promise<{ statuses: Map<string, string>; held: string[] }> {
  github.requests.length = 0;
  github.issues().length = 0;
  github.holdWhen((_req, index) => HELD.includes(index));
  const full = {
    ...env,
    ...TIMING,
    ACTIONS_ENABLED: "true",
    ALLOW_ACTIONS_DEFAULT: "github.issue.create",
    ACTIONS_GITHUB_BASE_URL: github.url,
    ACTIONS_GITHUB_TOKEN: TOKEN,
  };
  const first = startWorker(full, { submit: N });
  await first.waitFor(() => github.requests.length >= Math.max(...HELD) + 1, "the held calls to reach the fake GitHub");
  first.process.kill("SIGKILL");
  await first.exited;
  const held = HELD.map((i) => (github.requests[i]!.json as { title: string }).title);
  github.holdWhen(undefined);

  const finishing = Array.from({ length: finishers }, () => startWorker(full, { expect: N }));
  await Promise.all(finishing.map((w) => w.waitFor((e) => e.some((x) => x.event === "done"), "every execution to settle")));
  await Promise.all(finishing.map((w) => w.exited));
  const statuses = new Map<string, string>();
  for (const w of [first, ...finishing])
    for (const e of w.events) if (e.event === "outcome" && e.key && e.status) statuses.set(e.key, e.status);
  const last = finishing[0]!.events.find((e) => e.event === "done")!.statuses!;
  expect((last.succeeded ?? 0) + (last.unknown ?? 0)).toBe(N);
  return { statuses, held };
}

function expectAtMostOnce(result: { statuses: Map<string, string>; held: string[] }): void {
  const calls = titlesCalled().reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map<string, number>());
  // The claim: no key reached the service twice, across the crash and the concurrent workers.
  expect([...calls.entries()].filter(([, n]) => n > 1)).toEqual([]);
  // The calls cut off by the kill are unknown, not re-run.
  for (const key of result.held) {
    expect(calls.get(key), `${key} called once`).toBe(1);
    expect(result.statuses.get(key), `${key} outcome`).toBe("unknown");
  }
  // Every key reported an outcome; the succeeded ones were created exactly once at GitHub.
  expect(result.statuses.size).toBe(N);
  const succeeded = [...result.statuses].filter(([, s]) => s === "succeeded").map(([k]) => k);
  for (const key of succeeded) expect(calls.get(key)).toBe(1);
  // A call answered just before the kill, whose outcome was never written, is unknown too: created once, not again.
  const created = github.issues().map((i) => i.title);
  expect(created.filter((k) => result.statuses.get(k) !== "succeeded" && result.statuses.get(k) !== "unknown")).toEqual([]);
  expect(succeeded.filter((k) => !created.includes(k))).toEqual([]);
  expect([...result.statuses.values()].every((s) => s === "succeeded" || s === "unknown")).toBe(true);
}

describe("actions: at most once per key with workers SIGKILLed mid-call", () => {
  it("on PGlite: the process dies, the next process on the same data folder finishes", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sluice-actions-crash-"));
    seedPgliteDataDir(join(dataDir, "pgdata"));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    expectAtMostOnce(await crashAndFinish({ SLUICE_DATA_DIR: dataDir }, 1));
  });

  it("on PostgreSQL (queues and store), two workers finishing at once", async () => {
    const databaseUrl = await freshPostgresDatabase("actions_crash");
    expectAtMostOnce(await crashAndFinish({ DATABASE_URL: databaseUrl, VECTOR_SEARCH_ENABLED: "false" }, 2));
  });

  it("on Redis queues + PostgreSQL, two workers finishing at once", async () => {
    const url = redisUrl(21);
    const redis = new Redis(url);
    await redis.flushdb();
    await redis.quit();
    const databaseUrl = await freshPostgresDatabase("actions_crash_redis");
    expectAtMostOnce(await crashAndFinish({ REDIS_URL: url, DATABASE_URL: databaseUrl, VECTOR_SEARCH_ENABLED: "false" }, 2));
  });
});
