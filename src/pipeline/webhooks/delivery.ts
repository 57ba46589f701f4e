import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { DelayedError, UnrecoverableError, type Job } from "bullmq";
import { isSluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Counter } from "../../ports/metrics.ts";
import type { Queryable } from "../../ports/store.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import { SIGNATURE_HEADER, signPayload } from "./signature.ts";
import { findDelivery, recordAttempt, type DeliveryRow } from "./sql.ts";
import { assertDeliverable, guardedLookup } from "./targets.ts";

/** What a delivery job carries: the log row to send, and for a job event the job that settled. */
export interface DeliveryJobData {
  delivery_id: string;
  source?: { queue: string; id: string } | undefined;
}

export interface DeliveryDeps {
  store: Queryable;
  queues: QueueManager;
  logger: Logger;
  /** The secrets to sign with, current first; none means the workspace cannot be signed for. */
  secretsFor(workspace: string): Promise<string[]>;
  allowPrivate: boolean;
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
  /** `webhook_delivery_attempts_total{event,outcome}`: delivered, retry, failed (last attempt), refused (URL or secret). */
  attempts?: Counter | undefined;
}

interface SendResult {
  statusCode: number | null;
  error: string | null;
}

const SOURCE_POLL_MS = 250;
const ERROR_TEXT_MAX = 500;

/**
 * One signed POST over node:http(s), whose socket resolves the host through `guardedLookup`.
 * Redirects are not followed: a 3xx could point anywhere, and it counts as a failed attempt.
 */
function post(url: URL, row: DeliveryRow, secrets: string[], options: { timeoutMs: number; allowPrivate: boolean }): Promise<SendResult> {
  const headers = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(row.body)),
    "user-agent": "Sluice-Webhooks/1",
    [SIGNATURE_HEADER]: signPayload(secrets, row.body, Math.floor(Date.now() / 1000)),
    "Sluice-Delivery-Id": row.id,
    "Sluice-Event": row.event,
  };
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const request = send(url, { method: "POST", headers, lookup: guardedLookup(options.allowPrivate) }, (response) => {
      clearTimeout(timer);
      // Drain the body so the socket is freed; its content is the receiver's business.
      response.resume();
      const status = response.statusCode ?? 0;
      resolve(status >= 200 && status < 300 ? { statusCode: status, error: null } : { statusCode: status, error: `HTTP ${status}` });
    });
    // One deadline for connect, send and the answer's head: a receiver that trickles cannot hold a worker.
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    request.on("error", (err) => {
      clearTimeout(timer);
      resolve({ statusCode: null, error: err.message.slice(0, ERROR_TEXT_MAX) });
    });
    request.end(row.body);
  });
}

/** When BullMQ's exponential backoff (delay * 2^(attempt-1)) will try again. */
const nextAttemptAt = (attempt: number, backoffMs: number) => new Date(Date.now() + backoffMs * 2 ** (attempt - 1));

/**
 * The processor of the `sluice-webhooks` queue: sends one delivery and logs the attempt. A failed
 * send throws so BullMQ retries it with exponential backoff, up to the delivery's attempts; the
 * queue is durable, so retries survive a worker restart (at-least-once: a worker killed after the
 * receiver answered but before the log was written sends again).
 */
export function deliveryProcessor(deps: DeliveryDeps) {
  const { store, logger } = deps;

  /** A job event is recorded just before BullMQ stores the job's outcome; wait for that, so a receiver reading the job sees it settled. */
  async function sourceSettled(source: DeliveryJobData["source"]): Promise<boolean> {
    if (!source || !deps.queues.has(source.queue)) return true;
    const job = await deps.queues.findJob(source.queue, source.id);
    return job === undefined || job.state === "completed" || job.state === "failed";
  }

  async function giveUp(row: DeliveryRow, error: string): Promise<never> {
    deps.attempts?.inc({ event: row.event, outcome: "refused" });
    await recordAttempt(store, row.id, { status: "failed", statusCode: null, error, nextAttemptAt: null });
    logger.warn({ deliveryId: row.id, workspace: row.workspace, error }, "webhook delivery refused");
    throw new UnrecoverableError(error);
  }

  return async (job: Job<DeliveryJobData>, token?: string): Promise<{ status: string }> => {
    const row = await findDelivery(store, job.data.delivery_id);
    if (!row || row.status === "delivered") return { status: row ? "already delivered" : "no such delivery" };
    if (!(await sourceSettled(job.data.source))) {
      await job.moveToDelayed(Date.now() + SOURCE_POLL_MS, token);
      throw new DelayedError("the job has not settled yet");
    }
    let url: URL;
    try {
      url = await assertDeliverable(row.target, { allowPrivate: deps.allowPrivate });
    } catch (err) {
      return giveUp(row, isSluiceError(err) ? `${err.code}: ${err.message}` : String(err));
    }
    const secrets = await deps.secretsFor(row.workspace);
    if (secrets.length === 0) return giveUp(row, "WEBHOOK_SECRET_MISSING: no signing secret for this workspace");

    const attempt = job.attemptsMade + 1;
    const result = await post(url, row, secrets, { timeoutMs: deps.timeoutMs, allowPrivate: deps.allowPrivate });
    const last = attempt >= deps.maxAttempts;
    deps.attempts?.inc({ event: row.event, outcome: result.error === null ? "delivered" : last ? "failed" : "retry" });
    if (result.error === null) {
      await recordAttempt(store, row.id, { status: "delivered", statusCode: result.statusCode, error: null, nextAttemptAt: null });
      return { status: "delivered" };
    }
    await recordAttempt(store, row.id, {
      status: last ? "failed" : "pending",
      statusCode: result.statusCode,
      error: result.error,
      nextAttemptAt: last ? null : nextAttemptAt(attempt, deps.backoffMs),
    });
    logger.warn(
      { deliveryId: row.id, workspace: row.workspace, attempt, statusCode: result.statusCode, error: result.error, last },
      "webhook delivery failed",
    );
    throw new Error(`webhook delivery failed: ${result.error}`);
  };
}
