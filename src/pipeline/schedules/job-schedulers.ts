import type { Queue } from "bullmq";
import { SluiceError } from "../../core/errors.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import { translating } from "../queues/translate-error.ts";

/** BullMQ's job-scheduler calls on one declared queue: the same on Redis, PostgreSQL and PGlite. */
type SchedulerQueue = Pick<Queue, "name" | "upsertJobScheduler" | "removeJobScheduler" | "getJobScheduler" | "getJobSchedulers">;

interface RepeatSpec {
  /** A cron pattern (with `tz`) or a period in ms. */
  pattern?: string;
  tz?: string;
  every?: number;
}

export interface JobSchedulers {
  /** Creates or updates the scheduler (idempotent: every process may call it at start) and returns its next firing. */
  upsert(id: string, repeat: RepeatSpec, template: { name: string; data: unknown }): Promise<Date | null>;
  remove(id: string): Promise<boolean>;
  next(id: string): Promise<Date | null>;
  /** Every scheduler id on the queue. */
  ids(): Promise<string[]>;
}

// The manager keeps its BullMQ queues to itself apart from Bull Board's list; schedulers are the one other use.
function bullQueue(queues: QueueManager, name: string): SchedulerQueue {
  const queue = queues.bullQueues().find((q) => q.name === name) as SchedulerQueue | undefined;
  if (!queue) throw new SluiceError("QUEUE_NOT_FOUND", `No queue named "${name}"`);
  return queue;
}

export function jobSchedulersOn(queues: QueueManager, queueName: string): JobSchedulers {
  const next = async (id: string): Promise<Date | null> => {
    const found = await translating(`job scheduler ${id}`, () => bullQueue(queues, queueName).getJobScheduler(id));
    return typeof found?.next === "number" ? new Date(found.next) : null;
  };
  return {
    async upsert(id, repeat, template) {
      const opts = { removeOnComplete: { count: 100 }, removeOnFail: { count: 500 } };
      await translating(`job scheduler ${id}`, () =>
        bullQueue(queues, queueName).upsertJobScheduler(id, repeat, { name: template.name, data: template.data, opts }),
      );
      return next(id);
    },
    remove: (id) => translating(`job scheduler ${id}`, () => bullQueue(queues, queueName).removeJobScheduler(id)),
    next,
    async ids() {
      const all = await translating(`job schedulers of ${queueName}`, () => bullQueue(queues, queueName).getJobSchedulers(0, -1));
      return all.map((s) => s.key);
    },
  };
}
