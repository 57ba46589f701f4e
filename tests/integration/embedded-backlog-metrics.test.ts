import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleValue } from "../harness/metrics.ts";
import { auth, catalogue, startLoggedSluice, statusCounts, until, type LoggedSluice } from "./backfill-support.ts";

/**
 * ai_backlog_items when nothing is pending: every workspace with items exports 0 for each backlog
 * status, so `sum(ai_backlog_items) < 1000` reads 0 rather than "no data" after a drain (and on the
 * first scrape of a process that never saw a backlog).
 */

let t: LoggedSluice;

beforeAll(async () => {
  t = await startLoggedSluice({ LOG_LEVEL: "warn", EMBEDDING_BACKFILL_SWEEP_MS: "300" });
  await t.sluice.intake.ensureWorkspace("drained", "Drained");
  await t.sluice.intake.ensureWorkspace("empty", "No items");
  const writer = (await t.sluice.intake.createApiKey({ workspaceId: "drained", scopes: ["jobs:write"] })).secret;
  const res = await t.app.inject({
    method: "PUT",
    url: "/api/workspaces/drained/items",
    headers: auth(writer),
    payload: { items: catalogue(3) },
  });
  expect(res.statusCode).toBe(200);
  await t.sluice.startWorkers();
  await until(
    () => statusCounts(t.sluice),
    (c) => c.completed === 3,
    30_000,
    "3 items completed",
  );
});
afterAll(async () => {
  await t?.close();
});

describe("ai_backlog_items with nothing pending", () => {
  it("exports 0 for pending, processing and failed of a workspace whose items are all completed", async () => {
    const text = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
    for (const status of ["pending", "processing", "failed"]) {
      expect(sampleValue(text, "ai_backlog_items", `workspace="drained",status="${status}"`), status).toBe(0);
    }
    expect(text).not.toContain('workspace="empty"');
    expect(text).not.toMatch(/status="completed"/);
  });
});
