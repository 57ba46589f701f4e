import { afterAll, beforeAll, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { sampleValue } from "../harness/metrics.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { sleep, until } from "../harness/wait.ts";
import { describeCasesAtOnce } from "../harness/cases-at-once.ts";
import { threeBackends } from "./approvals-support.ts";

interface Schedule {
  name: string;
  tz: string;
  source: string;
  status: string;
  health: string;
  last_run_at: string | null;
  next_run_at: string | null;
  last_error: string | null;
  target: { kind: string; name: string; workspace: string };
}

// Seed 003 §1.3, verbatim.
const SEED_STALENESS_SQL = `
SELECT 
  job_name,
  last_run_at,
  next_run_at,
  status,
  CASE 
    WHEN last_run_at < NOW() - INTERVAL '2 days' THEN 'STALE'
    ELSE 'OK'
  END as health
FROM cron_job_status 
WHERE job_name LIKE 'e5_%'
ORDER BY next_run_at;
`;

describeCasesAtOnce(
  "schedules",
  threeBackends("sch", 23),
  (e) => e.name,
  (engine) => {
    let t: TestSluice;
    let admin: string;
    let otherAdmin: string;
    let reader: string;
    const call = (method: "GET" | "PUT" | "DELETE", url: string, key: string | undefined, body?: unknown) =>
      t.app.inject({
        method,
        url,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
    const get = async (name: string) => (await call("GET", `/api/schedules/${name}`, admin)).json<Schedule>();
    const runsOf = async (name: string) =>
      (
        await t.sluice.store.query<{ status: string; job_id: string | null; run_id: string | null; error: string | null }>(
          "SELECT status, job_id, run_id, error FROM schedule_runs WHERE schedule_name = $1 ORDER BY id",
          [name],
        )
      ).rows;

    beforeAll(async () => {
      t = await startTestSluice(await engine.env());
      await t.sluice.intake.ensureWorkspace("ws-sca", "Schedules A");
      await t.sluice.intake.ensureWorkspace("ws-scb", "Schedules B");
      admin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-sca", scopes: ["admin"] })).secret;
      otherAdmin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-scb", scopes: ["admin"] })).secret;
      reader = (await t.sluice.intake.createApiKey({ workspaceId: "ws-sca", scopes: ["jobs:read"] })).secret;
      t.sluice.pipeline(
        definePipeline({ name: "nightly-digest", input: z.object({ day: z.string() }) }, async (input, step) =>
          step.run("compose", async () => `digest of ${input.day}`),
        ),
      );
      await t.sluice.startWorkers({ concurrency: 2 });
    });
    afterAll(async () => {
      await t?.close();
    });

    it("a task schedule (cron with time zone) enqueues jobs through the jobs service and shows in cron_job_status", async () => {
      const put = await call("PUT", "/api/schedules/e5_churn_rescore", admin, {
        cron: "*/2 * * * * *",
        tz: "Europe/Bucharest",
        target: { kind: "task", name: "classify", input: { text: "renewal soon" } },
        reason: "E5 cron",
      });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.json()).toMatchObject({
        name: "e5_churn_rescore",
        tz: "Europe/Bucharest",
        source: "api",
        status: "scheduled",
        target: { kind: "task", name: "classify", workspace: "ws-sca" },
      });
      const fired = await until(
        () => get("e5_churn_rescore"),
        (s) => s.status === "succeeded",
        20_000,
        "first firing",
      );
      expect(fired.health).toBe("OK");
      // The next firing is BullMQ's: every 2 s from the last.
      expect(Math.abs(Date.parse(fired.next_run_at ?? "") - Date.now())).toBeLessThan(10_000);
      const first = (await runsOf("e5_churn_rescore"))[0];
      expect(first).toMatchObject({ status: "succeeded", run_id: null, error: null });
      // The job is the workspace's own, through the jobs service: readable with its key.
      const job = await t.app.inject({ method: "GET", url: `/ai/jobs/${first?.job_id}`, headers: { authorization: `Bearer ${admin}` } });
      expect(job.statusCode, job.body).toBe(200);
      expect(job.json()).toMatchObject({ type: "classify" });

      const { rows } = await t.sluice.store.query<{ job_name: string; health: string; status: string }>(SEED_STALENESS_SQL);
      expect(rows.find((r) => r.job_name === "e5_churn_rescore")).toMatchObject({ health: "OK", status: "succeeded" });
      const metrics = (await t.app.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${admin}` } })).body;
      expect(
        Math.abs(
          (sampleValue(metrics, "sluice_schedule_last_success_timestamp_seconds", 'schedule="e5_churn_rescore"') ?? 0) - Date.now() / 1000,
        ),
      ).toBeLessThan(30);
      const audit = await t.sluice.audit.list({ workspaceId: "ws-sca", action: "schedule.put" });
      expect(audit[0]).toMatchObject({ target: "e5_churn_rescore", reason: "E5 cron", details: { outcome: "succeeded" } });
    });

    it("a pipeline schedule starts runs; a schedule declared in code is listed with source code", async () => {
      const declared = await t.sluice.schedule({
        name: "e5_digest",
        cron: "*/2 * * * * *",
        tz: "UTC",
        target: { kind: "pipeline", name: "nightly-digest", input: { day: "mon" }, workspace: "ws-sca" },
      });
      expect(declared).toMatchObject({ source: "code", target: { kind: "pipeline" } });
      const fired = await until(
        () => runsOf("e5_digest"),
        (r) => r.some((x) => x.status === "succeeded"),
        20_000,
        "a pipeline firing",
      );
      const runId = fired.find((x) => x.status === "succeeded")?.run_id ?? "";
      const run = await until(
        () => t.sluice.runs.get(runId, "ws-sca"),
        (r) => r.status === "completed",
        20_000,
        "the scheduled run",
      );
      expect(run.output).toBe("digest of mon");
      const list = (await call("GET", "/api/schedules", admin)).json<{ schedules: Schedule[] }>().schedules;
      expect(list.map((s) => s.name).sort()).toEqual(["e5_churn_rescore", "e5_digest"]);
    });

    it("marks a schedule STALE when it has not fired for 2 days, as seed 003 §1.3 does", async () => {
      expect(
        (
          await call("PUT", "/api/schedules/e5_yearly", admin, {
            cron: "0 3 1 1 *",
            target: { kind: "task", name: "classify", input: { text: "x" } },
          })
        ).statusCode,
      ).toBe(200);
      expect((await get("e5_yearly")).health).toBe("OK");
      // Its last firing three days ago (fixture rows: the test cannot wait two days).
      await t.sluice.store.query(
        "INSERT INTO schedule_runs (schedule_name, fired_for, started_at, finished_at, status) VALUES ('e5_yearly', now() - interval '3 days', now() - interval '3 days', now() - interval '3 days', 'succeeded')",
      );
      expect(await get("e5_yearly")).toMatchObject({ health: "STALE", status: "succeeded" });
      const { rows } = await t.sluice.store.query<{ job_name: string; health: string }>(SEED_STALENESS_SQL);
      expect(rows.find((r) => r.job_name === "e5_yearly")?.health).toBe("STALE");
      expect(rows.find((r) => r.job_name === "e5_churn_rescore")?.health).toBe("OK");
    });

    it("refuses bad schedules with 4xx codes and keeps workspaces apart", async () => {
      for (const [body, code] of [
        [{ cron: "every day", target: { kind: "task", name: "classify" } }, "SCHEDULE_INVALID"],
        [{ cron: "0 3 * * *", tz: "Mars/Olympus", target: { kind: "task", name: "classify" } }, "SCHEDULE_INVALID"],
        [{ cron: "0 3 * * *", target: { kind: "task", name: "no-such-task" } }, "JOB_TYPE_UNKNOWN"],
        [{ cron: "0 3 * * *", target: { kind: "cron", name: "classify" } }, "VALIDATION_FAILED"],
      ] as const) {
        const res = await call("PUT", "/api/schedules/e5_bad", admin, body);
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(res.json().error.code).toBe(code);
      }
      expect(
        (await call("PUT", "/api/schedules/bad%20name", admin, { cron: "0 3 * * *", target: { kind: "task", name: "classify" } })).json()
          .error.code,
      ).toBe("SCHEDULE_INVALID");
      expect((await call("GET", "/api/schedules/e5_churn_rescore", otherAdmin)).statusCode).toBe(404);
      expect((await call("DELETE", "/api/schedules/e5_churn_rescore", otherAdmin, {})).statusCode).toBe(404);
      expect((await call("GET", "/api/schedules", otherAdmin)).json()).toEqual({ schedules: [] });
      expect(
        (
          await call("PUT", "/api/schedules/e5_churn_rescore", otherAdmin, {
            cron: "0 3 * * *",
            target: { kind: "task", name: "classify" },
          })
        ).statusCode,
      ).toBe(409);
      expect((await call("GET", "/api/schedules", reader)).statusCode).toBe(403);
      expect((await call("GET", "/api/schedules", undefined)).statusCode).toBe(401);
    });

    it("DELETE removes the schedule and its BullMQ scheduler: no more firings (audited)", async () => {
      for (const name of ["e5_churn_rescore", "e5_digest"]) {
        const res = await call("DELETE", `/api/schedules/${name}`, admin, { reason: "retired" });
        expect(res.statusCode, res.body).toBe(200);
      }
      expect((await call("GET", "/api/schedules/e5_churn_rescore", admin)).json().error.code).toBe("SCHEDULE_NOT_FOUND");
      await sleep(2_500); // a firing already handed to a worker may still finish
      const before = (await runsOf("e5_churn_rescore")).length;
      await sleep(4_500);
      expect((await runsOf("e5_churn_rescore")).length).toBe(before);
      const audit = await t.sluice.audit.list({ workspaceId: "ws-sca", action: "schedule.delete" });
      expect(audit[0]).toMatchObject({ reason: "retired", details: { outcome: "succeeded" } });
    });
  },
);
