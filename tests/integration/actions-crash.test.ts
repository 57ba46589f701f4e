import { expect, it } from "vitest";
import { suiteFakeGithub, type FakeGithub } from "../fakes/github-server.ts";
import {
  CRASH_TIMING,
  embeddedBackend,
  postgresBackend,
  redisBackend,
  startCrashWorker,
  type WorkerEvent,
} from "../harness/crash-worker.ts";
import { describeCasesAtOnce } from "../harness/cases-at-once.ts";

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

interface ChildEvent extends WorkerEvent {
  key?: string;
  status?: string;
  statuses?: Record<string, number>;
  counted?: Record<string, number>;
}

const startWorker = (env: Record<string, string>, config: Record<string, unknown>) =>
  startCrashWorker<ChildEvent>("actions-crash-worker", {
    ...env,
    ACTIONS_CRASH_CONFIG: JSON.stringify({ workspace: WORKSPACE, concurrency: 4, ...config }),
  });

const titlesCalled = (github: FakeGithub): string[] =>
  github.requests.filter((r) => r.method === "POST").map((r) => (r.json as { title: string }).title);

interface CrashResult {
  statuses: Map<string, string>;
  held: string[];
  /** sluice_actions_executed_total{outcome="unknown"}, summed over the finishing processes. */
  unknownCounted: number;
}

/** Phase 1 submits N jobs and is SIGKILLed with HELD calls in flight; phase 2 finishes; returns each key's ledger status. */
async function crashAndFinish(github: FakeGithub, env: Record<string, string>, finishers: number): Promise<CrashResult> {
  github.holdWhen((_req, index) => HELD.includes(index));
  const full = {
    ...env,
    ...CRASH_TIMING,
    ACTIONS_ENABLED: "true",
    ALLOW_ACTIONS_DEFAULT: "github.issue.create",
    ACTIONS_GITHUB_BASE_URL: github.url,
    ACTIONS_GITHUB_TOKEN: TOKEN,
  };
  const first = startWorker(full, { submit: N });
  await first.waitFor(() => github.requests.length >= Math.max(...HELD) + 1, "the held calls to reach the fake GitHub");
  await first.kill();
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
  const unknownCounted = finishing
    .map((w) => w.events.find((e) => e.event === "done")?.counted?.unknown ?? 0)
    .reduce((sum, n) => sum + n, 0);
  return { statuses, held, unknownCounted };
}

function expectAtMostOnce(github: FakeGithub, result: CrashResult): void {
  const calls = titlesCalled(github).reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map<string, number>());
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
  // Each unknown outcome is counted once, by the process that found the call cut off.
  const unknown = [...result.statuses.values()].filter((s) => s === "unknown").length;
  expect(unknown).toBeGreaterThanOrEqual(HELD.length);
  expect(result.unknownCounted).toBe(unknown);
}

// The backends at the same time: each its own database, Redis logical database, fake GitHub and
// worker processes, and most of each is waiting for a lock to expire.
const BACKENDS = [
  {
    name: "PGlite: the process dies, the next process on the same data folder finishes",
    env: async () => embeddedBackend("sluice-actions-crash-"),
    finishers: 1,
  },
  { name: "PostgreSQL (queues and store), two workers finishing at once", env: () => postgresBackend("actions_crash"), finishers: 2 },
  { name: "Redis queues + PostgreSQL, two workers finishing at once", env: () => redisBackend("actions_crash_redis", 21), finishers: 2 },
];

describeCasesAtOnce(
  "actions: at most once per key with workers SIGKILLed mid-call",
  BACKENDS,
  (c) => c.name,
  ({ env, finishers }) => {
    const github = suiteFakeGithub(TOKEN);
    // Three backends' worker processes at once: seconds each when quiet, more on a busy machine.
    it("calls no key twice", { timeout: 180_000 }, async () => {
      expectAtMostOnce(github(), await crashAndFinish(github(), await env(), finishers));
    });
  },
);
