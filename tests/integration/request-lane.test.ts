import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * Issue 8: on embedded PGlite the API must not wait behind the backfill's queue of statements. The
 * HTTP server runs each request in the request lane, whose statements go ahead of queued background
 * ones (src/adapters/store/pglite/statement-gate.ts); here the background queue is a burst of store
 * statements made outside any request, as the backfill's and the workers' are.
 */
describe("HTTP requests on embedded PGlite go ahead of queued background statements", () => {
  let t: TestSluice;

  beforeAll(async () => {
    t = await startTestSluice();
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(["/ready", "/metrics"])("GET %s answers before the background statements queued ahead of it", async (url) => {
    const finished: string[] = [];
    const background = Array.from({ length: 60 }, (_, i) =>
      t.sluice.store.query("SELECT pg_sleep(0.005)").then(() => finished.push(`background ${i}`)),
    );
    const response = await t.app.inject({ method: "GET", url });
    finished.push("request");
    await Promise.all(background);
    expect(response.statusCode).toBe(200);
    // First come, first served it would come after all 60 (its statements were queued last).
    expect(finished.indexOf("request")).toBeLessThan(30);
  });
});
