import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../harness/wait.ts";
import { FAULT_SETTINGS, startRole, startStack, stopProcess, stopStack, type SluiceProcess, type Stack } from "./fleet.ts";
import { missedTargets, ProviderLedger, underLoad } from "./load.ts";

/**
 * Worker processes dying under load, in an api + 2 workers fleet (queues on Redis, store on
 * PostgreSQL). A worker that dies mid-call leaves its jobs to the others once their locks expire:
 * nothing is lost or failed, and only the calls it had in flight are paid twice (at least once).
 */
const CONCURRENCY = Number(FAULT_SETTINGS.QUEUE_CONCURRENCY);
const LATENCY_MS = 300;

let stack: Stack | undefined;
let api: SluiceProcess;
let workers: SluiceProcess[] = [];
let ledger: ProviderLedger;

beforeAll(async () => {
  stack = await startStack();
  ledger = new ProviderLedger(stack.fake);
  const env = stack.env;
  [api, ...workers] = await Promise.all([startRole("api", env), startRole("worker", env), startRole("worker", env)]);
}, 240_000);

afterAll(() => stopStack(stack), 60_000);

const target = () => ({ url: api.url, key: stack?.key ?? "" });

describe("fault suite: worker processes", () => {
  it("SIGKILL of a worker mid-load: the other worker and a restarted one finish its jobs", async () => {
    ledger.reset(LATENCY_MS);
    const r = await underLoad(target, ledger, { fault: "sigkill-worker", jobs: 240, perSecond: 20 }, async (load) => {
      await load.untilAccepted(60);
      const victim = workers[0] as SluiceProcess;
      victim.signal("SIGKILL");
      await victim.exited;
      await sleep(1_000);
      workers[0] = await startRole("worker", stack?.env ?? {});
    });
    expect(missedTargets(r, { maxTwice: CONCURRENCY }), `fault=${r.fault}`).toEqual([]);
  }, 240_000);

  it("SIGTERM past SHUTDOWN_TIMEOUT_MS: the abandoned jobs run again, counted in their attempts", async () => {
    ledger.reset(LATENCY_MS);
    const shutdownMs = Number(FAULT_SETTINGS.SHUTDOWN_TIMEOUT_MS);
    const r = await underLoad(target, ledger, { fault: "sigterm-past-timeout", jobs: 240, perSecond: 20 }, async (load) => {
      await load.untilAccepted(60);
      // Every call from now on outlasts the shutdown timeout, so the victim must give up on its jobs.
      stack?.fake.setLatency(shutdownMs * 2 + 1_000);
      await sleep(shutdownMs);
      const victim = workers[1] as SluiceProcess;
      const began = Date.now();
      const code = await stopProcess(victim, "SIGTERM");
      const stopMs = Date.now() - began;
      stack?.fake.setLatency(LATENCY_MS);
      workers[1] = await startRole("worker", stack?.env ?? {});
      return { exit: String(code), stop_ms: stopMs };
    });
    // The fault happened as intended: the victim could not finish its calls in time.
    expect(Number(r.extra.stop_ms)).toBeGreaterThanOrEqual(Number(FAULT_SETTINGS.SHUTDOWN_TIMEOUT_MS) - 100);
    expect(missedTargets(r, { maxTwice: CONCURRENCY, rerunsVisible: true }), `fault=${r.fault}`).toEqual([]);
  }, 240_000);
});
