import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * Issue 9 item 2: with only DATABASE_URL set (no Redis), the provider's RPM limit is one limit for
 * the fleet, counted in PostgreSQL like the intake limits, not once per process. Two Sluice
 * instances (each with its own pool and runtime, as two worker processes have) call one provider.
 */
let fake: FakeProviderServer;
const instances: TestSluice[] = [];

beforeAll(async () => {
  fake = await startFakeProviderServer();
});
afterAll(async () => {
  for (const t of instances) await t.close();
  await fake?.close();
});

describe("provider limits on a PostgreSQL-only fleet", () => {
  it("two processes together stay within AI_RPM_LIMIT", async () => {
    const env = {
      DATABASE_URL: await freshPostgresDatabase("provlimits"),
      VECTOR_SEARCH_ENABLED: "false",
      AI_PROVIDER: "openai",
      OPENAI_BASE_URL: fake.openaiBaseUrl,
      OPENAI_API_KEY: "sk-test",
      // 60/min in 10 s windows: 10 calls per window for the whole fleet.
      AI_RPM_LIMIT: "60",
      AI_LIMIT_WINDOW_SECONDS: "10",
      // Callers past the window's 10 give up after 2 s (RATE_LIMITED), long before the next window.
      AI_LIMIT_MAX_WAIT_MS: "2000",
      AI_MAX_ATTEMPTS: "1",
    };
    instances.push(await startTestSluice(env), await startTestSluice(env));
    expect(instances.map((t) => t.sluice.intake.rateLimitBackend)).toEqual(["postgres", "postgres"]);
    fake.reset();

    const calls = instances.flatMap((t) => Array.from({ length: 15 }, (_, i) => t.sluice.runtime.complete({ prompt: `p${i}` })));
    const settled = await Promise.allSettled(calls);
    const answered = settled.filter((s) => s.status === "fulfilled").length;
    const refused = settled.flatMap((s) => (s.status === "rejected" ? [(s.reason as { code?: string }).code] : []));

    // Per-process counting would let each instance send 10 (20 in all).
    expect(fake.stats.requests).toBe(10);
    expect(answered).toBe(10);
    expect(refused).toEqual(Array.from({ length: 20 }, () => "RATE_LIMITED"));
  }, 60_000);
});
