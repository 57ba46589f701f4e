import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job } from "bullmq";
import { SluiceError } from "../../../src/core/errors.ts";
import type { QueueManager } from "../../../src/pipeline/queues/queue-manager.ts";
import { eventually, fresh, gate, openManager, sleep, type OpenedManager, type QueueTarget } from "./helpers.ts";
import { queueAdminConformance } from "./queue-admin-suite.ts";

export type { QueueTarget } from "./helpers.ts";

/**
 * The queue conformance suite: the same tests on every backend (Redis, a PostgreSQL server, PGlite).
 * A backend that passes is interchangeable behind the QueueManager.
 */
export function queueConformance(target: QueueTarget): void {
  describe(`Queue conformance: ${target.name}`, () => {
    let opened: OpenedManager;
    let m: QueueManager;
    beforeAll(async () => {
      opened = await openManager(target);
      m = opened.manager;
    });
    afterAll(async () => {
      await opened.close();
    });

    it("answers ping and reports healthy", async () => {
      await opened.backend.ping();
      expect(await opened.backend.health()).toMatchObject({ kind: target.kind, ok: true, latencyMs: expect.any(Number) });
      expect(opened.backend.kind).toBe(target.kind);
    });

    it("adds a job with its payload and the defaults: 3 attempts, exponential backoff with jitter, retention", async () => {
      const q = fresh("add");
      m.declare(q);
      const data = { workspace: "ws-123", input: { text: "héllo", n: [1, 2, 3] }, nested: { ok: true } };
      const added = await m.add(q, "summarise", data);
      expect(added).toEqual({ id: expect.any(String), queue: q, name: "summarise" });
      const job = await m.getJob(q, added.id);
      expect(job).toMatchObject({
        id: added.id,
        queue: q,
        name: "summarise",
        data,
        state: "waiting",
        attemptsMade: 0,
        maxAttempts: 3,
        priority: 0,
      });
      expect(job.timestamps.created).toBeGreaterThan(Date.now() - 60_000);
      const raw = await m
        .bullQueues()
        .find((b) => b.name === q)
        ?.getJob(added.id);
      expect(raw?.opts).toMatchObject({
        attempts: 3,
        backoff: { type: "exponential", delay: 1000, jitter: 0.5 },
        removeOnComplete: { age: 86_400, count: 1000 },
        removeOnFail: { age: 604_800, count: 10_000 },
      });
    });

    it("adds in bulk, each job with its own payload and options", async () => {
      const q = fresh("bulk");
      m.declare(q);
      const added = await m.addBulk(q, [
        { name: "a", data: { workspace: "ws-1", i: 1 } },
        { name: "b", data: { workspace: "ws-2", i: 2 }, opts: { attempts: 5 } },
        { name: "c", data: { i: 3 }, opts: { delay: 60_000 } },
      ]);
      expect(added.map((a) => a.name)).toEqual(["a", "b", "c"]);
      expect(new Set(added.map((a) => a.id)).size).toBe(3);
      const [a, b, c] = await Promise.all(added.map((x) => m.getJob(q, x.id)));
      expect(a).toMatchObject({ data: { workspace: "ws-1", i: 1 }, maxAttempts: 3, state: "waiting" });
      expect(b).toMatchObject({ data: { workspace: "ws-2", i: 2 }, maxAttempts: 5 });
      expect(c?.state).toBe("delayed");
      expect(c?.timestamps.due).toBeGreaterThan(Date.now() + 50_000);
      expect(await m.counts(q)).toMatchObject({ waiting: 2, delayed: 1, total: 3 });
    });

    it("returns the existing job when a jobId is added again", async () => {
      const q = fresh("jobid");
      m.declare(q);
      const first = await m.add(q, "x", { v: 1 }, { jobId: "req-42" });
      const second = await m.add(q, "x", { v: 2 }, { jobId: "req-42" });
      expect(second.id).toBe("req-42");
      expect(first.id).toBe("req-42");
      expect((await m.getJob(q, "req-42")).data).toEqual({ v: 1 });
      expect((await m.counts(q)).waiting).toBe(1);
    });

    it("runs higher priority (lower number) jobs first", async () => {
      const q = fresh("prio");
      m.declare(q);
      await m.add(q, "p10", {}, { priority: 10 });
      await m.add(q, "p1", {}, { priority: 1 });
      await m.add(q, "p5", {}, { priority: 5 });
      expect((await m.counts(q)).waiting).toBe(3);
      const order: string[] = [];
      const worker = await m.startWorker(q, async (job) => void order.push(job.name), { concurrency: 1 });
      try {
        await eventually(
          () => order.length,
          (n) => n === 3,
          "3 jobs to run",
        );
        expect(order).toEqual(["p1", "p5", "p10"]);
      } finally {
        await worker.close();
      }
    });

    it("holds a delayed job until it is due", async () => {
      const q = fresh("delay");
      m.declare(q);
      const ran: Job[] = [];
      const worker = await m.startWorker(q, async (job) => void ran.push(job));
      try {
        const { id } = await m.add(q, "later", { x: 1 }, { delay: 1200 });
        expect((await m.getJob(q, id)).state).toBe("delayed");
        expect((await m.counts(q)).delayed).toBe(1);
        await sleep(600);
        expect(ran).toHaveLength(0);
        const done = await eventually(
          () => m.getJob(q, id),
          (j) => j.state === "completed",
          "the delayed job to complete",
        );
        expect(done.timestamps.processed! - done.timestamps.created).toBeGreaterThanOrEqual(1150);
      } finally {
        await worker.close();
      }
    });

    it("retries a failing job 3 times by default, backing off exponentially, and keeps the failure reason", async () => {
      const q = fresh("attempts");
      m.declare(q);
      const runs: number[] = [];
      const worker = await m.startWorker(q, async (job) => {
        runs.push(Date.now());
        throw new Error(`boom on attempt ${job.attemptsMade + 1}`);
      });
      try {
        const { id } = await m.add(q, "flaky", {}, { backoff: { type: "exponential", delay: 300, jitter: 0.5 } });
        const failed = await eventually(
          () => m.getJob(q, id),
          (j) => j.state === "failed",
          "the job to fail for good",
        );
        expect(failed).toMatchObject({ attemptsMade: 3, maxAttempts: 3, failedReason: "boom on attempt 3" });
        expect(failed.stacktrace.length).toBeGreaterThan(0);
        expect(runs).toHaveLength(3);
        // Jittered exponential: 2nd wait is in [150, 300] ms, 3rd in [300, 600] ms.
        expect(runs[1]! - runs[0]!).toBeGreaterThanOrEqual(140);
        expect(runs[2]! - runs[1]!).toBeGreaterThanOrEqual(290);
        const explicit = await m.add(q, "twice", {}, { attempts: 2, backoff: 10 });
        const failedTwice = await eventually(
          () => m.getJob(q, explicit.id),
          (j) => j.state === "failed",
          "the 2-attempt job to fail",
        );
        expect(failedTwice.attemptsMade).toBe(2);
      } finally {
        await worker.close();
      }
    });

    it("runs up to `concurrency` jobs at once", async () => {
      const q = fresh("conc");
      m.declare(q);
      await m.addBulk(
        q,
        Array.from({ length: 8 }, (_, i) => ({ name: "slow", data: { i } })),
      );
      let running = 0;
      let peak = 0;
      const worker = await m.startWorker(
        q,
        async () => {
          running += 1;
          peak = Math.max(peak, running);
          await sleep(400);
          running -= 1;
        },
        { concurrency: 4 },
      );
      try {
        await eventually(
          () => m.counts(q),
          (c) => c.completed === 8,
          "8 completions",
        );
        expect(peak).toBe(4);
      } finally {
        await worker.close();
      }
    });

    it("reports active jobs with their progress, then the return value of completed ones", async () => {
      const q = fresh("progress");
      m.declare(q);
      const release = gate();
      const reachedHalf = gate();
      const worker = await m.startWorker(q, async (job) => {
        await job.updateProgress(50);
        reachedHalf.open();
        await release.wait;
        await job.updateProgress({ step: "done", pct: 100 });
        return { summary: `ok ${(job.data as { n: number }).n}` };
      });
      try {
        const { id } = await m.add(q, "work", { n: 7 });
        await reachedHalf.wait;
        const active = await eventually(
          () => m.getJob(q, id),
          (j) => j.progress === 50,
          "progress 50",
        );
        expect(active.state).toBe("active");
        expect(active.timestamps.processed).not.toBeNull();
        expect((await m.counts(q)).active).toBe(1);
        expect((await m.jobs(q, "active")).jobs.map((j) => j.id)).toEqual([id]);
        release.open();
        const done = await eventually(
          () => m.getJob(q, id),
          (j) => j.state === "completed",
          "completion",
        );
        expect(done).toMatchObject({
          returnvalue: { summary: "ok 7" },
          progress: { step: "done", pct: 100 },
          attemptsMade: 1,
          failedReason: null,
        });
        expect(done.timestamps.finished).toBeGreaterThanOrEqual(done.timestamps.processed!);
      } finally {
        release.open();
        await worker.close();
      }
    });

    it("refuses unknown queues and bad options with stable codes", async () => {
      const q = fresh("bad");
      m.declare(q);
      await expect(m.add("no-such-queue", "x", {})).rejects.toMatchObject({ code: "QUEUE_NOT_FOUND", status: 404 });
      await expect(m.counts("no-such-queue")).rejects.toBeInstanceOf(SluiceError);
      await expect(m.add(q, "x", {}, { priority: -1 })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      await expect(m.add(q, "x", {}, { jobId: "123" })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      await expect(m.add(q, "x", {}, { delay: -5 })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      await expect(m.jobs(q, "stalled" as "failed")).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      expect(() => m.declare("bad name!")).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED" }));
      await expect(m.getJob(q, "missing-job")).rejects.toMatchObject({ code: "JOB_NOT_FOUND", status: 404 });
      expect(await m.findJob(q, "missing-job")).toBeUndefined();
    });
  });

  queueAdminConformance(target);
}
