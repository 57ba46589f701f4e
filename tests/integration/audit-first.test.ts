import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

// A real fault in the real table: a trigger that refuses every new audit row.
const BREAK_AUDIT = [
  "CREATE OR REPLACE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit store refuses writes'; END $$",
  "CREATE TRIGGER refuse_audit BEFORE INSERT ON action_audit FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
];
const MEND_AUDIT = "DROP TRIGGER refuse_audit ON action_audit";

const engines = embeddedAndServers("auditfirst", 10);

describe.each(engines)("an admin action that cannot be audited is not done, on $name", (engine) => {
  let t: TestSluice;
  let admin: string;
  const post = (url: string, body: unknown) =>
    t.app.inject({
      method: "POST",
      url,
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      payload: JSON.stringify(body),
    });
  const board = (url: string) =>
    t.app.inject({
      method: "PUT",
      url: `/admin/queues/api/queues/${url}`,
      headers: { authorization: `Basic ${Buffer.from(`ops:${admin}`).toString("base64")}` },
    });
  const paused = async () => (await t.sluice.queues.list()).find((q) => q.name === "ai-jobs")?.paused;

  beforeAll(async () => {
    t = await startTestSluice(await engine.env());
    await t.sluice.intake.ensureWorkspace("ws-au", "Audit");
    admin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-au", scopes: ["operator"] })).secret;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("refuses pause and cache clear while the audit cannot be written, and leaves the queue running", async () => {
    for (const sql of BREAK_AUDIT) await t.sluice.store.query(sql);
    try {
      const pause = await post("/api/queues/ai-jobs/pause", { reason: "deploy" });
      expect(pause.statusCode).toBeGreaterThanOrEqual(500);
      expect(await paused()).toBe(false);
      expect((await post("/api/cache/clear", { reason: "x" })).statusCode).toBeGreaterThanOrEqual(500);
      expect((await board("ai-jobs/pause")).statusCode).toBeGreaterThanOrEqual(500);
      expect(await paused()).toBe(false);
    } finally {
      await t.sluice.store.query(MEND_AUDIT);
    }
  });

  it("writes the row first and completes it with the outcome, failed ones included", async () => {
    expect((await post("/api/queues/ai-jobs/pause", { reason: "deploy 42" })).statusCode).toBe(200);
    expect(await paused()).toBe(true);
    expect((await post("/api/queues/ai-jobs/resume", { reason: "deploy 42 done" })).statusCode).toBe(200);
    expect((await post("/api/queues/ai-jobs/jobs/no-such-job/retry", { reason: "try" })).statusCode).toBe(404);
    const rows = await t.sluice.audit.list({ workspaceId: "ws-au", limit: 10 });
    expect(rows.find((r) => r.action === "queue.pause")).toMatchObject({ reason: "deploy 42", details: { outcome: "succeeded" } });
    expect(rows.find((r) => r.action === "job.retry")).toMatchObject({
      target: "ai-jobs/no-such-job",
      details: { outcome: "failed", error: "JOB_NOT_FOUND" },
    });
  });

  it("audits Bull Board's own buttons before they act, with the key behind the Basic-auth password as the actor", async () => {
    const keyId = (await t.sluice.intake.authenticate(admin)).keyId;
    expect((await board("ai-jobs/pause")).statusCode).toBe(200);
    expect(await paused()).toBe(true);
    expect((await board("ai-jobs/resume")).statusCode).toBe(200);
    const rows = await t.sluice.audit.list({ action: "bullboard.put", limit: 5 });
    expect(rows.map((r) => r.target)).toEqual(["/api/queues/ai-jobs/resume", "/api/queues/ai-jobs/pause"]);
    expect(rows[1]).toMatchObject({
      actor: `key:${keyId}`,
      reason: "via Bull Board",
      details: { queue: "ai-jobs", outcome: "succeeded", status: 200 },
    });
  });
});
