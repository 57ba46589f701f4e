import { randomBytes, randomUUID } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { SluiceConfig } from "../../core/config.ts";
import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type { Store } from "../../ports/store.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { WorkerHandle } from "../queues/types.ts";
import { deliveryProcessor, type DeliveryJobData } from "./delivery.ts";
import { jobEvent, runEvent, type SettledEvent, type SettledJob, type SettledRun } from "./payloads.ts";
import {
  DELIVERY_STATUSES,
  findDelivery,
  insertDelivery,
  listDeliveries,
  readWorkspaceWebhook,
  reopenDelivery,
  rotateWorkspaceSecret,
  upsertWorkspaceUrl,
  type DeliveryRow,
  type DeliveryStatus,
  type WorkspaceWebhookRow,
} from "./sql.ts";
import { assertDeliverable } from "./targets.ts";

/** Sluice's own queue of webhook deliveries; the jobs API refuses it like `ai-batch-queue`. */
export const WEBHOOKS_QUEUE = "sluice-webhooks";

/** How long a process trusts its copy of a workspace's webhook settings (another process's PATCH shows within this). */
const SETTINGS_CACHE_MS = 5_000;

export interface WebhooksOptions {
  store: Store;
  queues: QueueManager;
  config: Pick<SluiceConfig, "webhooks">;
  logger: Logger;
  /** Where `webhook_delivery_attempts_total{event,outcome}` is counted. */
  metrics?: Metrics;
  /** @default WEBHOOKS_QUEUE */
  queue?: string;
}

/** A delivery as the API shows it (the body stays in the database; the event id is in it). */
export interface DeliveryView {
  id: string;
  workspace: string;
  event: string;
  subject: string;
  target: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  delivered_at: string | null;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function toDeliveryView(row: DeliveryRow): DeliveryView {
  const { body: _body, ...rest } = row;
  return {
    ...rest,
    next_attempt_at: iso(row.next_attempt_at),
    created_at: new Date(row.created_at).toISOString(),
    delivered_at: iso(row.delivered_at),
  };
}

export interface ListDeliveriesRequest {
  workspace?: string | undefined;
  status?: string | undefined;
  subject?: string | undefined;
  limit: number;
  beforeId?: string | undefined;
}

/**
 * Signed completion webhooks: the targets of a settled job or run (its `callback_url` and the
 * workspace's default URL), one logged delivery per target from a durable queue with
 * exponential backoff, and the operator's view of them (list, redeliver).
 */
export function createWebhooks(options: WebhooksOptions) {
  const { store, queues } = options;
  const settings = options.config.webhooks;
  const queue = options.queue ?? WEBHOOKS_QUEUE;
  const logger = options.logger.child({ component: "webhooks" });
  const cache = new LRUCache<string, { row: WorkspaceWebhookRow | null }>({ max: 10_000, ttl: SETTINGS_CACHE_MS });
  if (!queues.has(queue)) queues.declare(queue);

  async function workspaceSettings(workspace: string): Promise<WorkspaceWebhookRow | null> {
    const hit = cache.get(workspace);
    if (hit) return hit.row;
    const row = (await readWorkspaceWebhook(store, workspace)) ?? null;
    cache.set(workspace, { row });
    return row;
  }

  /** Current secret first; the previous one too while its grace lasts. */
  async function secretsFor(workspace: string): Promise<string[]> {
    const row = await readWorkspaceWebhook(store, workspace);
    const current = row?.secret ?? settings.signingSecret;
    const previous =
      row?.previous_secret && row.previous_expires_at && new Date(row.previous_expires_at).getTime() > Date.now()
        ? row.previous_secret
        : undefined;
    return [current, previous].filter((s): s is string => typeof s === "string" && s.length > 0);
  }

  /** For intake: a URL Sluice will call, and a secret to sign with. Throws WEBHOOK_URL_REFUSED / WEBHOOK_SECRET_MISSING. */
  async function checkTarget(workspace: string, url: string): Promise<void> {
    // The secret first: it costs one read, while the URL check may wait on DNS.
    if ((await secretsFor(workspace)).length === 0) throw new SluiceError("WEBHOOK_SECRET_MISSING");
    await assertDeliverable(url, { allowPrivate: settings.allowPrivate });
  }

  async function enqueue(row: DeliveryRow, jobId: string, source?: DeliveryJobData["source"]): Promise<void> {
    const data: DeliveryJobData = { delivery_id: row.id, ...(source ? { source } : {}) };
    await queues.add(queue, row.event, data, {
      jobId,
      attempts: settings.maxAttempts,
      backoff: { type: "exponential", delay: settings.backoffMs },
      removeOnComplete: true,
      removeOnFail: { count: 1_000 },
    });
  }

  async function record(event: SettledEvent, targets: string[], source?: DeliveryJobData["source"]): Promise<void> {
    for (const target of new Set(targets)) {
      const { row, created } = await insertDelivery(store, { id: randomUUID(), ...event, target });
      // An earlier call recorded it: queue it again only while it is pending (the add is a no-op when its job is still there).
      if (created || row.status === "pending") await enqueue(row, row.id, source);
    }
  }

  /**
   * Called by the task worker once a job's outcome is decided, before BullMQ stores it: recorded
   * and queued first, so a crash in between still leaves the callback queued (the job then runs
   * again and settles again; the delivery is recorded once).
   */
  async function jobSettled(job: SettledJob): Promise<void> {
    const workspaceUrl = (await workspaceSettings(job.envelope.workspace))?.url ?? undefined;
    const targets = [job.envelope.callback_url, workspaceUrl].filter((t): t is string => typeof t === "string");
    if (targets.length === 0) return;
    await record(jobEvent(job), targets, { queue: job.queue, id: job.id });
  }

  /** For the runs' `onRunSettled`: the workspace's default URL, and the run's `callback_url` when the runs API carries one. */
  async function runSettled(run: SettledRun): Promise<void> {
    const event = runEvent(run);
    if (!event) return;
    const workspaceUrl = (await workspaceSettings(run.workspace))?.url ?? undefined;
    const targets = [run.callback_url ?? undefined, workspaceUrl].filter((t): t is string => typeof t === "string");
    if (targets.length > 0) await record(event, targets);
  }

  async function setWorkspaceUrl(workspace: string, url: string | null): Promise<void> {
    if (url !== null) await checkTarget(workspace, url);
    await upsertWorkspaceUrl(store, workspace, url);
    cache.delete(workspace);
  }

  /** A new per-workspace secret, returned once; the old one (or WEBHOOK_SIGNING_SECRET on a first rotation) keeps signing for WEBHOOK_SECRET_GRACE_SECONDS. */
  async function rotateSecret(workspace: string): Promise<{ secret: string; previous_valid_until: string | null }> {
    const secret = `whsec_${randomBytes(24).toString("base64url")}`;
    await rotateWorkspaceSecret(store, workspace, secret, settings.secretGraceSeconds, settings.signingSecret ?? null);
    cache.delete(workspace);
    const row = await readWorkspaceWebhook(store, workspace);
    return { secret, previous_valid_until: iso(row?.previous_expires_at ?? null) };
  }

  async function list(request: ListDeliveriesRequest): Promise<DeliveryView[]> {
    if (request.status !== undefined && !DELIVERY_STATUSES.includes(request.status as DeliveryStatus)) {
      throw new SluiceError("VALIDATION_FAILED", `status must be one of ${DELIVERY_STATUSES.join(", ")}`);
    }
    const rows = await listDeliveries(store, { ...request, status: request.status as DeliveryStatus | undefined });
    return rows.map(toDeliveryView);
  }

  async function get(id: string, workspace: string | undefined): Promise<DeliveryView> {
    const row = await findDelivery(store, id, workspace);
    if (!row) throw new SluiceError("WEBHOOK_DELIVERY_NOT_FOUND", `No webhook delivery ${id}`);
    return toDeliveryView(row);
  }

  /** Sends a delivered or failed delivery again (same body, fresh signature); CONFLICT while it is still pending. */
  async function redeliver(id: string, workspace: string | undefined): Promise<DeliveryView> {
    const row = await reopenDelivery(store, id, workspace);
    if (!row) {
      const existing = await findDelivery(store, id, workspace);
      if (!existing) throw new SluiceError("WEBHOOK_DELIVERY_NOT_FOUND", `No webhook delivery ${id}`);
      throw new SluiceError("CONFLICT", `Delivery ${id} is still pending: the queue is retrying it`, {
        details: { next_attempt_at: iso(existing.next_attempt_at) },
      });
    }
    await enqueue(row, `${row.id}.r${Date.now()}`);
    logger.info({ deliveryId: id, workspace: row.workspace }, "webhook redelivery queued");
    return toDeliveryView(row);
  }

  function startWorker(workerOptions: { concurrency?: number } = {}): Promise<WorkerHandle> {
    const attempts = options.metrics?.counter({
      name: "webhook_delivery_attempts_total",
      help: "Completion webhook delivery attempts by event and outcome: delivered, retry (will try again), failed (last attempt), refused (URL or secret)",
      labelNames: ["event", "outcome"],
    });
    const processor = deliveryProcessor({
      store,
      queues,
      logger,
      secretsFor,
      attempts,
      allowPrivate: settings.allowPrivate,
      maxAttempts: settings.maxAttempts,
      backoffMs: settings.backoffMs,
      timeoutMs: settings.timeoutMs,
    });
    return queues.startWorker(queue, processor, workerOptions);
  }

  return {
    queue,
    checkTarget,
    jobSettled,
    runSettled,
    setWorkspaceUrl,
    workspaceSettings,
    rotateSecret,
    list,
    get,
    redeliver,
    startWorker,
  };
}

export type Webhooks = ReturnType<typeof createWebhooks>;
