import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceError } from "../../src/core/errors.ts";
import { createJobIndex } from "../../src/pipeline/jobs/job-index.ts";
import { intakeRow } from "../../src/pipeline/jobs/job-listing.ts";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

/**
 * `GET /ai/jobs` reads the workspace's job index by keyset (issue 10 item 7, issue 11): with more
 * than 5,000 jobs of another workspace queued after a workspace's own, the listing still finds
 * them on the first page (the old scan stopped after 5,000 jobs of anyone), pages through 6,000
 * jobs without a gap or a repeat, filters by status, type and time, and each page is one index
 * range scan.
 */

const A_JOBS = 6_000;

interface Listed {
  jobs: Array<{ id: string; status: string; type: string; created_at: string }>;
  next_cursor: string | null;
}

for (const engine of embeddedAndServers("jobsindex", 25)) {
  describe(`job listing from the per-workspace index, on ${engine.name}`, () => {
    let t: TestSluice;
    let keyA: string;
    let keyB: string;
    const b = { completed: "", failed: "", queued: "" };
    const aIds: string[] = [];
    let aStartMs = 0;
    const list = async (key: string, query: string) => {
      const res = await t.app.inject({ method: "GET", url: `/ai/jobs${query}`, headers: { authorization: `Bearer ${key}` } });
      expect(res.statusCode, res.body).toBe(200);
      return res.json<Listed>();
    };
    const submit = async (key: string, type: string, id: string) => {
      const res = await t.app.inject({
        method: "POST",
        url: "/ai/jobs",
        headers: { authorization: `Bearer ${key}` },
        payload: { type, input: { text: id }, client_request_id: id },
      });
      expect(res.statusCode, res.body).toBe(202);
      return res.json<{ id: string }>().id;
    };

    beforeAll(async () => {
      t = await startTestSluice({ ...(await engine.env()), RATE_LIMIT_READS_PER_MINUTE: "1000000" });
      const { sluice } = t;
      sluice.task("echo", async (input: { text: string }) => ({ echoed: input.text }));
      sluice.task("boom", async () => {
        throw new SluiceError("VALIDATION_FAILED", "boom");
      });
      for (const ws of ["ws-a", "ws-b"]) await sluice.intake.ensureWorkspace(ws, ws, { rateLimitPerMinute: 1_000_000 });
      keyA = (await sluice.intake.createApiKey({ workspaceId: "ws-a", scopes: ["jobs:read", "jobs:write"] })).secret;
      keyB = (await sluice.intake.createApiKey({ workspaceId: "ws-b", scopes: ["jobs:read", "jobs:write"] })).secret;

      // B's jobs go first, so they are the oldest: one completes and one fails under workers.
      const workers = await sluice.startWorkers();
      b.completed = await submit(keyB, "echo", "b-ok");
      b.failed = await submit(keyB, "boom", "b-boom");
      const principalB = await sluice.intake.authenticate(keyB);
      await until(
        async () => [(await sluice.jobs.get(principalB, b.completed)).status, (await sluice.jobs.get(principalB, b.failed)).status].join(),
        (s) => s === "completed,failed",
        60_000,
        "B's jobs settled",
      );
      for (const w of workers) await w.close();
      b.queued = await submit(keyB, "echo", "b-waiting");

      // Then 6,000 of A's, queued after all of B's: through intake's own index rows, in bulk.
      aStartMs = Date.now() + 1_000;
      const rows = Array.from({ length: A_JOBS }, (_, i) => ({
        id: `a-${String(i).padStart(5, "0")}`,
        type: i % 2 === 0 ? "echo" : "llm.complete",
        createdMs: aStartMs + i,
      }));
      for (let i = 0; i < rows.length; i += 1_000) {
        const chunk = rows.slice(i, i + 1_000);
        await sluice.queues.addBulk(
          "ai-jobs",
          chunk.map((r) => ({
            name: r.type,
            data: { workspace: "ws-a", type: r.type, input: { text: r.id }, client_request_id: r.id, submitted_by: "seed" },
            opts: { jobId: r.id },
          })),
        );
        await sluice.store.query(
          `INSERT INTO job_index (workspace_id, job_id, queue, type, state, created_ms)
           SELECT 'ws-a', id, 'ai-jobs', type, 'queued', ms FROM unnest($1::text[], $2::text[], $3::bigint[]) AS r(id, type, ms)`,
          [chunk.map((r) => r.id), chunk.map((r) => r.type), chunk.map((r) => r.createdMs)],
        );
      }
      aIds.push(...rows.map((r) => r.id).reverse());
    }, 600_000);
    afterAll(async () => {
      await t?.close();
    });

    it("finds B's three jobs on its first page behind 6,000 newer jobs of A, every state by default, newest first", async () => {
      const page = await list(keyB, "?limit=50");
      expect(page.jobs.map((j) => j.id)).toEqual([b.queued, b.failed, b.completed]);
      expect(page.jobs.map((j) => j.status)).toEqual(["waiting", "failed", "completed"]);
      expect(page.next_cursor).toBeNull();
    });

    it("filters by status in the words the API answers: queued (waiting + delayed), completed, failed", async () => {
      expect((await list(keyB, "?status=queued")).jobs.map((j) => j.id)).toEqual([b.queued]);
      expect((await list(keyB, "?status=waiting")).jobs.map((j) => j.id)).toEqual([b.queued]);
      expect((await list(keyB, "?status=completed")).jobs.map((j) => j.id)).toEqual([b.completed]);
      expect((await list(keyB, "?status=failed")).jobs.map((j) => j.id)).toEqual([b.failed]);
      expect((await list(keyB, "?status=active")).jobs).toEqual([]);
    });

    it("pages through all 6,000 of A's jobs by cursor: newest first, no gap, no repeat, nothing of B's", async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Listed = await list(keyA, `?limit=500${cursor ? `&cursor=${cursor}` : ""}`);
        seen.push(...page.jobs.map((j) => j.id));
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor && pages < 20);
      expect(pages).toBe(12);
      expect(seen).toEqual(aIds);
    }, 300_000);

    it("filters by type and by time, and pages within a filter", async () => {
      const echo = await list(keyA, "?type=echo&limit=500");
      expect(echo.jobs).toHaveLength(500);
      expect(echo.jobs.every((j) => j.type === "echo")).toBe(true);
      const second = await list(keyA, `?type=echo&limit=500&cursor=${echo.next_cursor}`);
      // Newest first, A's echo jobs are every other one starting from the second (seeded with even numbers).
      expect(second.jobs[0]?.id).toBe(aIds.filter((_, k) => k % 2 === 1)[500]);
      const since = new Date(aStartMs + A_JOBS - 100).toISOString();
      const recent = await list(keyA, `?since=${since}&limit=500`);
      expect(recent.jobs.map((j) => j.id)).toEqual(aIds.slice(0, 100));
      expect(recent.next_cursor).toBeNull();
      expect((await list(keyA, "?status=queued&limit=100")).jobs).toHaveLength(100);
    });

    it("a job gone from its queue leaves the listing and the index", async () => {
      const newest = aIds[0] ?? "";
      await t.sluice.queues.removeJob("ai-jobs", newest);
      expect((await list(keyA, "?limit=3")).jobs.map((j) => j.id)).toEqual(aIds.slice(1, 3));
      const { rows } = await t.sluice.store.query("SELECT 1 FROM job_index WHERE workspace_id = 'ws-a' AND job_id = $1", [newest]);
      expect(rows).toHaveLength(0);
      expect((await list(keyA, "?limit=3")).jobs.map((j) => j.id)).toEqual(aIds.slice(1, 4));
    });

    it("each page is one range scan of a job_index index, not a scan of the table (with statistics, as autovacuum keeps them)", async () => {
      await t.sluice.store.query("ANALYZE job_index");
      for (const where of [
        "workspace_id = 'ws-a'",
        "workspace_id = 'ws-a' AND state = ANY('{queued}'::text[])",
        "workspace_id = 'ws-a' AND (created_ms, job_id) < (9999999999999, 'z')",
      ]) {
        const { rows } = await t.sluice.store.query<{ "QUERY PLAN": string }>(
          `EXPLAIN SELECT job_id FROM job_index WHERE ${where} ORDER BY created_ms DESC, job_id DESC LIMIT 51`,
        );
        const plan = rows.map((r) => Object.values(r)[0]).join("\n");
        expect(plan, plan).toMatch(/Index (Only )?Scan using job_index_(newest|state)_idx/);
        expect(plan, plan).not.toMatch(/Seq Scan|Sort/);
      }
    });

    it("keeps the planner's statistics as jobs are taken: ANALYZE every analyzeEvery rows (PGlite has no autovacuum)", async () => {
      const { store } = t.sluice;
      const analyses = async () =>
        Number(
          (
            await store.query<{ n: string | number }>(
              "SELECT coalesce(analyze_count, 0) + coalesce(autoanalyze_count, 0) AS n FROM pg_stat_user_tables WHERE relname = 'job_index'",
            )
          ).rows[0]?.n ?? 0,
        );
      const before = await analyses();
      const index = createJobIndex(store, undefined, { analyzeEvery: 20 });
      for (let i = 0; i < 20; i += 1) await index.record(intakeRow("ws-c", `c-${i}`, "ai-jobs", "echo"));
      await until(analyses, (n) => n > before, 15_000, "an ANALYZE of job_index");
    });

    it("refuses bad filters with 400 VALIDATION_FAILED", async () => {
      for (const query of ["?status=stuck", "?since=yesterday", "?cursor=bm90LWEtY3Vyc29y", "?limit=0"]) {
        const res = await t.app.inject({ method: "GET", url: `/ai/jobs${query}`, headers: { authorization: `Bearer ${keyA}` } });
        expect(res.statusCode, query).toBe(400);
        expect(res.json<{ error: { code: string } }>().error.code).toBe("VALIDATION_FAILED");
      }
    });
  });
}
