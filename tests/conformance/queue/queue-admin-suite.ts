import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueManager } from "../../../src/pipeline/queues/queue-manager.ts";
import { eventually, fresh, gate, openManager, seriesValue, sleep, type OpenedManager, type QueueTarget } from "./helpers.ts";

/** The operator half of the conformance suite: pause/resume, listings, paging, retry, clean, remove, metrics. */
export function queueAdminConformance(target: QueueTarget): void {
  describe(`Queue admin conformance: ${target.name}`, () => {
    let opened: OpenedManager;
    let m: QueueManager;
    beforeAll(async () => {
      opened = await openManager(target);
      m = opened.manager;
    });
    afterAll(async () => {
      await opened.close();
    });

    it("a paused queue accepts jobs and hands none out; resume lets them run", async () => {
      const q = fresh("pause");
      m.declare(q);
      const ran: string[] = [];
      const worker = await m.startWorker(q, async (job) => void ran.push(String(job.id)));
      try {
        await m.pause(q);
        expect(await m.isPaused(q)).toBe(true);
        await m.addBulk(q, [
          { name: "a", data: {} },
          { name: "b", data: {} },
        ]);
        await m.add(q, "c", {}, { priority: 3 });
        await sleep(1200);
        expect(ran).toHaveLength(0);
        expect(await m.stats(q)).toMatchObject({ name: q, paused: true, waiting: 3, active: 0, completed: 0 });
        const waiting = await m.jobs(q, "waiting");
        expect(waiting.total).toBe(3);
        expect(waiting.jobs.every((j) => j.state === "waiting")).toBe(true);
        await m.resume(q);
        await eventually(
          () => m.counts(q),
          (c) => c.completed === 3,
          "the held jobs to run after resume",
        );
        expect((await m.stats(q)).paused).toBe(false);
      } finally {
        await worker.close();
      }
    });

    it("pauses and resumes every queue at once; list() shows each with counts and workers", async () => {
      const [a, b] = [fresh("all-a"), fresh("all-b")];
      m.declare(a);
      m.declare(b);
      await m.add(a, "x", {});
      const worker = await m.startWorker(b, async () => "ok");
      try {
        const paused = await m.pauseAll();
        expect(paused).toEqual(expect.arrayContaining([a, b]));
        const rows = await m.list();
        expect(rows.map((r) => r.name)).toEqual([...m.names()]);
        const rowA = rows.find((r) => r.name === a);
        expect(rowA).toEqual({ name: a, waiting: 1, total: 1, active: 0, completed: 0, failed: 0, delayed: 0, paused: true, workers: 0 });
        expect(rows.find((r) => r.name === b)).toMatchObject({ paused: true, workers: 1 });
        await m.resumeAll();
        expect((await m.list()).every((r) => !r.paused)).toBe(true);
      } finally {
        await worker.close();
      }
      await eventually(
        () => m.stats(b),
        (s) => s.workers === 0,
        "the closed worker to disappear",
      );
      await m.resumeAll();
    });

    it("pages through jobs by state without skipping or repeating any", async () => {
      const q = fresh("paging");
      m.declare(q);
      await m.addBulk(
        q,
        Array.from({ length: 7 }, (_, i) => ({ name: "plain", data: { i } })),
      );
      await m.addBulk(
        q,
        Array.from({ length: 5 }, (_, i) => ({ name: "prio", data: { i }, opts: { priority: 2 } })),
      );
      const seen: string[] = [];
      for (let offset = 0; offset < 12; offset += 5) {
        const page = await m.jobs(q, "waiting", { offset, limit: 5 });
        expect(page).toMatchObject({ total: 12, offset, limit: 5 });
        seen.push(...page.jobs.map((j) => j.id));
      }
      expect(seen).toHaveLength(12);
      expect(new Set(seen).size).toBe(12);
      const worker = await m.startWorker(q, async (job) => ({ echo: job.data as unknown }), { concurrency: 4 });
      try {
        await eventually(
          () => m.counts(q),
          (c) => c.completed === 12,
          "12 completions",
        );
      } finally {
        await worker.close();
      }
      const pages = await Promise.all([0, 5, 10].map((offset) => m.jobs(q, "completed", { offset, limit: 5 })));
      expect(pages.map((p) => p.jobs.length)).toEqual([5, 5, 2]);
      const done = pages.flatMap((p) => p.jobs);
      expect(new Set(done.map((j) => j.id))).toEqual(new Set(seen));
      expect(done.every((j) => j.state === "completed" && j.returnvalue !== null)).toBe(true);
      expect((await m.jobs(q, "completed", { offset: 20 })).jobs).toEqual([]);
    });

    it("retries one failed job, refuses to retry a job that is not failed, and retries all failed jobs", async () => {
      const q = fresh("retry");
      m.declare(q);
      let healthy = false;
      const worker = await m.startWorker(q, async (job) => {
        if (!healthy) throw new Error(`provider down for ${String(job.id)}`);
        return "recovered";
      });
      try {
        const added = await m.addBulk(
          q,
          Array.from({ length: 4 }, (_, i) => ({ name: "call", data: { i }, opts: { attempts: 1 } })),
        );
        await eventually(
          () => m.counts(q),
          (c) => c.failed === 4,
          "4 failures",
        );
        const failedPage = await m.jobs(q, "failed", { limit: 10 });
        expect(failedPage.total).toBe(4);
        expect(failedPage.jobs[0]?.failedReason).toMatch(/^provider down for /);
        healthy = true;
        const first = added[0]!.id;
        await m.retryJob(q, first);
        await eventually(
          () => m.getJob(q, first),
          (j) => j.state === "completed",
          "the retried job to complete",
        );
        await expect(m.retryJob(q, "nope")).rejects.toMatchObject({ code: "JOB_NOT_FOUND" });
        const waitingOne = await m.add(q, "x", {}, { delay: 60_000 });
        await expect(m.retryJob(q, waitingOne.id)).rejects.toMatchObject({ code: "CONFLICT", status: 409 });
        expect(await m.retryAll(q)).toEqual({ retried: 3 });
        await eventually(
          () => m.counts(q),
          (c) => c.failed === 0 && c.completed === 4,
          "every failed job to run again",
        );
        const again = await m.getJob(q, added[3]!.id);
        expect(again).toMatchObject({ state: "completed", returnvalue: "recovered" });
      } finally {
        await worker.close();
      }
    });

    it("cleans jobs by state and age, and removes one job", async () => {
      const q = fresh("clean");
      m.declare(q);
      let fail = true;
      const worker = await m.startWorker(q, async () => {
        if (fail) throw new Error("nope");
        return 1;
      });
      try {
        await m.addBulk(
          q,
          Array.from({ length: 3 }, () => ({ name: "old-fail", data: {}, opts: { attempts: 1 } })),
        );
        await eventually(
          () => m.counts(q),
          (c) => c.failed === 3,
          "3 old failures",
        );
        fail = false;
        await m.addBulk(
          q,
          Array.from({ length: 2 }, () => ({ name: "done", data: {} })),
        );
        await eventually(
          () => m.counts(q),
          (c) => c.completed === 2,
          "2 completions",
        );
        await sleep(700);
        fail = true;
        await m.add(q, "new-fail", {}, { attempts: 1 });
        await eventually(
          () => m.counts(q),
          (c) => c.failed === 4,
          "a fresh failure",
        );
        expect(await m.clean(q, { state: "failed", graceMs: 500 })).toEqual({ removed: 3 });
        expect(await m.counts(q)).toMatchObject({ failed: 1, completed: 2 });
        expect(await m.clean(q, { state: "completed", graceMs: 0, limit: 1 })).toEqual({ removed: 1 });
        expect((await m.counts(q)).completed).toBe(1);
        await expect(m.clean(q, { state: "stalled" as "failed" })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      } finally {
        await worker.close();
      }
      const waiting = await m.add(q, "remove-me", {});
      await m.removeJob(q, waiting.id);
      expect(await m.findJob(q, waiting.id)).toBeUndefined();
      await expect(m.removeJob(q, waiting.id)).rejects.toMatchObject({ code: "JOB_NOT_FOUND" });
    });

    it("refuses to remove a job a worker is running", async () => {
      const q = fresh("remove-active");
      m.declare(q);
      const release = gate();
      const started = gate();
      const worker = await m.startWorker(q, async () => {
        started.open();
        await release.wait;
      });
      try {
        const { id } = await m.add(q, "busy", {});
        await started.wait;
        await eventually(
          () => m.getJob(q, id),
          (j) => j.state === "active",
          "the job to be active",
        );
        await expect(m.removeJob(q, id)).rejects.toMatchObject({ code: "CONFLICT" });
      } finally {
        release.open();
        await worker.close();
      }
    });

    it("exports the queue metrics by their runbook names, from Worker events and job counts", async () => {
      const q = fresh("metrics");
      m.declare(q);
      await m.addBulk(
        q,
        Array.from({ length: 5 }, (_, i) => ({ name: "m", data: { i }, opts: { attempts: 1 } })),
      );
      await m.add(q, "later", {}, { delay: 60_000 });
      const worker = await m.startWorker(q, async (job) => {
        if ((job.data as { i?: number }).i === 0) throw new Error("one fails");
      });
      const release = gate();
      let second: Awaited<ReturnType<QueueManager["startWorker"]>> | undefined;
      try {
        await eventually(
          () => m.counts(q),
          (c) => c.completed === 4 && c.failed === 1,
          "the jobs to finish",
        );
        second = await m.startWorker(q, async () => release.wait);
        await m.pause(q);
        await m.add(q, "held", {});
        await sleep(1100); // the gauges reuse one snapshot for a second
        const text = await opened.metrics.render();
        const at = (name: string, labels: Record<string, string> = {}) => seriesValue(text, name, { queue: q, ...labels });
        expect(at("ai_queue_enqueue_total")).toBe(7);
        expect(at("ai_queue_dequeue_total")).toBe(5);
        expect(at("bullmq_jobs_completed_total")).toBe(4);
        expect(at("bullmq_jobs_failed_total")).toBe(1);
        expect(at("bullmq_jobs_stalled_total")).toBe(0);
        expect(at("ai_queue_depth_total", { state: "waiting" })).toBe(1);
        expect(at("ai_queue_depth_total", { state: "delayed" })).toBe(1);
        expect(at("ai_queue_depth_total", { state: "active" })).toBe(0);
        expect(at("bullmq_queue_waiting")).toBe(1);
        expect(at("ai_queue_workers")).toBe(2);
        expect(at("bullmq_workers_active")).toBe(2);
      } finally {
        release.open();
        await second?.close();
        await worker.close();
        await m.resume(q);
      }
    });
  });
}
