import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "../../core/logger.ts";
import type { FleetReports } from "../../ports/fleet-reports.ts";
import type { QueueManager } from "./queue-manager.ts";

/**
 * Every worker process registers itself in the fleet reports (Redis, else the store), at once when
 * its entry changes and every 5 s otherwise: host, pid, role, the queues it serves with their concurrency and running
 * jobs, when it started and when it last reported. A process that dies drops out after the TTL.
 * The same tick applies runtime concurrency overrides (flag `queue.<name>.concurrency`), so a change
 * made through any process reaches every worker within FLAGS_CACHE_MS plus a second, without a restart.
 */
interface WorkerQueueView {
  queue: string;
  concurrency: number;
  /** What the process was started with (WORKER_CONCURRENCY / QUEUE_CONCURRENCY), before a runtime override. */
  configured_concurrency: number;
  active: number;
}

export interface WorkerProcessView {
  id: string;
  host: string;
  pid: number;
  role: string;
  started_at: string;
  last_seen: string;
  queues: WorkerQueueView[];
  /** Jobs running in the process, every queue. */
  active: number;
}

/** One row of `GET /api/admin/workers/{queue}`: a process's worker on that queue. */
export interface QueueWorkerView {
  id: string;
  host: string;
  pid: number;
  role: string;
  concurrency: number;
  configured_concurrency: number;
  active: number;
  started_at: string;
  last_seen: string;
}

export interface WorkerRegistryOptions {
  queues: QueueManager;
  reports: FleetReports;
  /** Runtime flags (`queue.<name>.concurrency` overrides). */
  flags: { get(name: string): Promise<boolean | number | string | undefined> };
  logger: Logger;
  /** @default 1000 */
  everyMs?: number;
  /** @default 15 */
  ttlSeconds?: number;
}

export interface WorkerRegistry {
  /** Starts registering this process (role `worker` or `all`); until then it only reads. */
  start(role: string): void;
  /** Every live worker process, sorted by host and pid. */
  list(): Promise<WorkerProcessView[]>;
  /** The processes serving `queue`, one row each. */
  forQueue(queue: string): Promise<QueueWorkerView[]>;
  /** Applies overrides and publishes this process's entry if it changed. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

const TOPIC = "workers";

/** The runtime flag that overrides a queue's worker concurrency (flag names are lower case). */
export const concurrencyFlag = (queue: string): string => `queue.${queue.toLowerCase()}.concurrency`;

export function createWorkerRegistry(options: WorkerRegistryOptions): WorkerRegistry {
  const { queues, reports, flags } = options;
  const logger = options.logger.child({ component: "worker-registry" });
  const id = `${hostname()}:${process.pid}:${randomBytes(2).toString("hex")}`;
  const ttl = options.ttlSeconds ?? 15;
  let registered: { role: string; startedAt: string; timer: NodeJS.Timeout } | undefined;
  let publishing: Promise<void> | undefined;

  const applyOverrides = async (): Promise<void> => {
    for (const handle of queues.workerHandles()) {
      const override = await flags.get(concurrencyFlag(handle.queue));
      const wanted = typeof override === "number" && Number.isInteger(override) && override >= 1 ? override : handle.configuredConcurrency;
      handle.setConcurrency(wanted);
    }
  };
  const view = (role: string, startedAt: string): WorkerProcessView => {
    const byQueue = new Map<string, WorkerQueueView>();
    for (const h of queues.workerHandles()) {
      const row = byQueue.get(h.queue) ?? { queue: h.queue, concurrency: 0, configured_concurrency: 0, active: 0 };
      byQueue.set(h.queue, {
        queue: h.queue,
        concurrency: row.concurrency + h.concurrency,
        configured_concurrency: row.configured_concurrency + h.configuredConcurrency,
        active: row.active + h.active,
      });
    }
    const rows = [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
    return {
      id,
      host: hostname(),
      pid: process.pid,
      role,
      started_at: startedAt,
      last_seen: new Date().toISOString(),
      queues: rows,
      active: rows.reduce((n, r) => n + r.active, 0),
    };
  };
  // An unchanged entry is refreshed every third of its TTL only: on the embedded engine each publish is a write.
  let last = { digest: "", at: 0 };
  const publish = async (): Promise<void> => {
    if (!registered) return;
    await applyOverrides();
    const current = view(registered.role, registered.startedAt);
    const digest = JSON.stringify({ ...current, last_seen: undefined });
    if (digest === last.digest && Date.now() - last.at < (ttl * 1000) / 3) return;
    await reports.publish(TOPIC, id, JSON.stringify(current), ttl);
    last = { digest, at: Date.now() };
  };
  const tick = (): Promise<void> =>
    (publishing ??= publish()
      .catch((err: unknown) => logger.debug({ err }, "could not register this worker process"))
      .finally(() => (publishing = undefined)));

  const list = async (): Promise<WorkerProcessView[]> => {
    const rows = (await reports.read(TOPIC)).flatMap((r) => parse(r.body));
    return rows.sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid);
  };

  return {
    start(role) {
      if (registered) return;
      const timer = setInterval(() => void tick(), options.everyMs ?? 1_000);
      timer.unref();
      registered = { role, startedAt: new Date().toISOString(), timer };
      void tick();
    },
    list,
    async forQueue(queue) {
      return (await list()).flatMap((p) =>
        p.queues
          .filter((q) => q.queue === queue)
          .map((q) => ({
            id: p.id,
            host: p.host,
            pid: p.pid,
            role: p.role,
            concurrency: q.concurrency,
            configured_concurrency: q.configured_concurrency,
            active: q.active,
            started_at: p.started_at,
            last_seen: p.last_seen,
          })),
      );
    },
    refresh: tick,
    async close() {
      if (!registered) return;
      clearInterval(registered.timer);
      await publishing;
      registered = undefined;
      await reports.withdraw(TOPIC, id).catch(() => undefined); // it expires anyway
    },
  };
}

function parse(body: string): WorkerProcessView[] {
  try {
    const view = JSON.parse(body) as WorkerProcessView;
    return view && typeof view.id === "string" && Array.isArray(view.queues) ? [view] : [];
  } catch {
    return [];
  }
}
