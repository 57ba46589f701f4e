import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../harness/wait.ts";
import { startRole, startStack, stopStack, type SluiceProcess, type Stack } from "./fleet.ts";
import { missedTargets, ProviderLedger, underLoad, type SteadyLoad } from "./load.ts";

/**
 * The servers Sluice depends on restarting under load, in an api + worker fleet with queues on
 * Redis (append-only file, as a queue Redis must run) and the store on PostgreSQL. None of these
 * is the job's fault: no job may be lost, failed or paid twice, nor spend an attempt.
 */
const LATENCY_MS = 200;

let stack: Stack | undefined;
let api: SluiceProcess;
let ledger: ProviderLedger;

beforeAll(async () => {
  stack = await startStack();
  ledger = new ProviderLedger(stack.fake);
  // Locks outlast the Redis faults (as the 30 s default does in production): a job whose worker
  // lives through the fault must not be handed to another (see the at-least-once note in docs/runbook.md).
  const env = { ...stack.env, QUEUE_LOCK_DURATION_MS: "15000" };
  [api] = await Promise.all([startRole("api", env), startRole("worker", env)]);
}, 240_000);

afterAll(() => stopStack(stack), 60_000);

const target = () => ({ url: api.url, key: stack?.key ?? "" });

/** Stops a server with `signal` once the load is under way, keeps it down `downMs`, starts it again. */
function restart(server: "redis" | "postgres", signal: NodeJS.Signals, downMs: number) {
  return async (load: SteadyLoad) => {
    const s = stack?.[server];
    if (!s) throw new Error(`no ${server}`);
    await load.untilAccepted(60);
    const began = Date.now();
    await s.halt(signal);
    await sleep(downMs);
    await s.resume();
    return { down_ms: Date.now() - began };
  };
}

describe("fault suite: Redis and PostgreSQL restarts", () => {
  it("Redis graceful restart (SHUTDOWN), queues on Redis", async () => {
    ledger.reset(LATENCY_MS);
    // SIGTERM is Redis's SHUTDOWN: it flushes the append-only file and closes every client.
    const r = await underLoad(target, ledger, { fault: "redis-shutdown", jobs: 240, perSecond: 20 }, restart("redis", "SIGTERM", 2_000));
    expect(missedTargets(r, { attemptsUnchanged: true }), `fault=${r.fault}`).toEqual([]);
  }, 240_000);

  it("Redis kill -9, queues on Redis", async () => {
    ledger.reset(LATENCY_MS);
    const r = await underLoad(target, ledger, { fault: "redis-kill9", jobs: 240, perSecond: 20 }, restart("redis", "SIGKILL", 2_000));
    expect(missedTargets(r, { attemptsUnchanged: true }), `fault=${r.fault}`).toEqual([]);
  }, 240_000);

  it("PostgreSQL restart (10 s down), queues on Redis, store on PostgreSQL", async () => {
    // Calls slower than the load's pace: a backlog builds, so jobs keep starting while PostgreSQL is down.
    ledger.reset(600);
    // SIGINT is PostgreSQL's fast shutdown, what a service restart does: sessions are ended (57P01).
    const r = await underLoad(target, ledger, { fault: "pg-restart", jobs: 300, perSecond: 20 }, restart("postgres", "SIGINT", 10_000));
    expect(missedTargets(r, { attemptsUnchanged: true }), `fault=${r.fault}`).toEqual([]);
  }, 240_000);
});
