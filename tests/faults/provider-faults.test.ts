import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../harness/wait.ts";
import { FAULT_SETTINGS, startRole, startStack, stopStack, type SluiceProcess, type Stack } from "./fleet.ts";
import { missedTargets, ProviderLedger, underLoad } from "./load.ts";

/**
 * The provider misbehaving under load, in an api + worker fleet. Each fault is longer than the
 * runtime's own retries (AI_MAX_ATTEMPTS, backoff, AI_MAX_RETRY_AFTER_MS) and far shorter than the
 * maximum wait for a provider: jobs must wait it out, none failed, none paid twice, no attempt spent.
 */
const LATENCY_MS = 200;

let stack: Stack | undefined;
let api: SluiceProcess;
let ledger: ProviderLedger;

beforeAll(async () => {
  stack = await startStack();
  ledger = new ProviderLedger(stack.fake);
  [api] = await Promise.all([startRole("api", stack.env), startRole("worker", stack.env)]);
}, 240_000);

afterAll(() => stopStack(stack), 60_000);

const target = () => ({ url: api.url, key: stack?.key ?? "" });

describe("fault suite: provider faults", () => {
  it("5xx outage longer than the retry backoff and the breaker's half-open time", async () => {
    ledger.reset(LATENCY_MS);
    const outageMs = 8_000;
    expect(outageMs).toBeGreaterThan(Number(FAULT_SETTINGS.AI_BREAKER_HALF_OPEN_AFTER_MS) * 4);
    const r = await underLoad(target, ledger, { fault: "provider-5xx", jobs: 200, perSecond: 20 }, async (load) => {
      await load.untilAccepted(40);
      stack?.fake.setOutage(true, { status: 503 });
      await sleep(outageMs);
      stack?.fake.setOutage(false);
      return { outage_ms: outageMs };
    });
    expect(missedTargets(r, { attemptsUnchanged: true }), `fault=${r.fault}`).toEqual([]);
  }, 240_000);

  it("429 storm (5 s) with a short Retry-After (1 s, waited in-process)", async () => {
    ledger.reset(LATENCY_MS);
    const stormMs = 5_000;
    const r = await underLoad(target, ledger, { fault: "429-short", jobs: 200, perSecond: 20 }, async (load) => {
      await load.untilAccepted(40);
      ledger.storm429(stormMs, 1);
      await sleep(stormMs);
      return { storm_ms: stormMs, retry_after_s: 1 };
    });
    expect(missedTargets(r, { attemptsUnchanged: true }), `fault=${r.fault}`).toEqual([]);
  }, 240_000);

  it("429 storm (6 s) with a long Retry-After (6 s, beyond AI_MAX_RETRY_AFTER_MS)", async () => {
    ledger.reset(LATENCY_MS);
    const retryAfterS = 6;
    expect(retryAfterS * 1000).toBeGreaterThan(Number(FAULT_SETTINGS.AI_MAX_RETRY_AFTER_MS));
    const r = await underLoad(target, ledger, { fault: "429-long", jobs: 200, perSecond: 20 }, async (load) => {
      await load.untilAccepted(40);
      ledger.storm429(retryAfterS * 1000, retryAfterS);
      await sleep(retryAfterS * 1000);
      return { storm_ms: retryAfterS * 1000, retry_after_s: retryAfterS };
    });
    expect(missedTargets(r, { attemptsUnchanged: true }), `fault=${r.fault}`).toEqual([]);
  }, 240_000);
});
