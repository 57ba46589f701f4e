import { SluiceError } from "../../core/errors.ts";
import type { Kv } from "../../ports/kv.ts";
import { DEFAULT_IDEMPOTENCY_TTL_SECONDS } from "../../core/config.ts";
import { validateWorkspaceId } from "../../core/workspace-id.ts";

/**
 * Idempotent intake: the first request with a `client_request_id` in a workspace claims it for a
 * job id; every repeat within the TTL (default 24 h) gets that same job id back. On Redis the
 * record is the key `ai:idempotency:{workspace}:{client_request_id}`, set with SET NX and EX, as
 * runbook 001 inspects it; without Redis it is the same key in the `kv_entries` table.
 *
 * A claim starts as `pending:{jobId}` and becomes `{jobId}` once that job is queued (`confirm`).
 * A repeat that finds a pending claim cannot tell "still being queued" from "the first request
 * failed or died before queueing", so it queues the job itself under the claimed id: adding an
 * existing job id is a no-op in BullMQ, so however many repeats race, there is one job, and a
 * claim never points at a job that was never queued.
 */
export type ClaimResult =
  | { created: true; jobId: string }
  /** `confirmed: false`: the claimed job may never have been queued; queue it under `jobId`, then `confirm`. */
  | { created: false; jobId: string; confirmed: boolean };

export interface IdempotencyRecord {
  key: string;
  jobId: string;
  /** False while the claim is pending: its job is not known to be queued yet. */
  confirmed: boolean;
  /** Seconds left, like Redis's TTL (-1 if it never expires). */
  ttlSeconds: number;
}

export interface IdempotencyOptions {
  /** Must not be a Redis that evicts keys (an evicted record means a duplicate job). */
  kv: Kv;
  /** How long a claim holds (IDEMPOTENCY_TTL_SECONDS). @default 86400 */
  ttlSeconds?: number;
}

export interface Idempotency {
  readonly ttlSeconds: number;
  /** Claims the id for `jobId` (pending); concurrent claims of one id in one workspace have one winner. */
  claim(workspace: string, clientRequestId: string, jobId: string): Promise<ClaimResult>;
  /**
   * Marks the claim's job as queued, keeping the claim's TTL. True when this call confirmed it;
   * false when it was already confirmed, or the claim is gone or names another job.
   */
  confirm(workspace: string, clientRequestId: string, jobId: string): Promise<boolean>;
  /** The job id holding the claim (pending or confirmed), or null. */
  lookup(workspace: string, clientRequestId: string): Promise<string | null>;
  /** The record as an operator inspects it (key, job id, confirmed, TTL), or null. */
  inspect(workspace: string, clientRequestId: string): Promise<IdempotencyRecord | null>;
}

const MAX_CLIENT_REQUEST_ID = 255;

/** Throws VALIDATION_FAILED unless the id is 1-255 characters without control characters. */
function validateClientRequestId(value: unknown): string {
  // eslint-disable-next-line no-control-regex
  if (typeof value === "string" && value.length > 0 && value.length <= MAX_CLIENT_REQUEST_ID && !/[\u0000-\u001f\u007f]/.test(value))
    return value;
  throw new SluiceError("VALIDATION_FAILED", `client_request_id must be 1-${MAX_CLIENT_REQUEST_ID} characters without control characters`, {
    details: { field: "client_request_id" },
  });
}

/** The record's key, exactly as runbook 001 reads it with `redis-cli TTL`. */
export function idempotencyKey(workspace: string, clientRequestId: string): string {
  return `ai:idempotency:${validateWorkspaceId(workspace)}:${validateClientRequestId(clientRequestId)}`;
}

const PENDING = "pending:";

function parseRecord(value: string): { jobId: string; confirmed: boolean } {
  return value.startsWith(PENDING) ? { jobId: value.slice(PENDING.length), confirmed: false } : { jobId: value, confirmed: true };
}

// BullMQ refuses ':' in custom job ids; refusing it here also keeps "pending:{id}" unambiguous.
function validateJobId(jobId: string): string {
  if (typeof jobId === "string" && jobId.length > 0 && !jobId.includes(":")) return jobId;
  throw new SluiceError("VALIDATION_FAILED", "A job id without ':' is required to claim a client_request_id");
}

export function createIdempotency(options: IdempotencyOptions): Idempotency {
  const { kv } = options;
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_SECONDS;
  return {
    ttlSeconds,
    async claim(workspace, clientRequestId, jobId) {
      const key = idempotencyKey(workspace, clientRequestId);
      const result = await kv.setIfAbsent(key, PENDING + validateJobId(jobId), { ttlSeconds });
      return result.won ? { created: true, jobId } : { created: false, ...parseRecord(result.existing) };
    },
    confirm: (workspace, clientRequestId, jobId) =>
      kv.replaceIfValue(idempotencyKey(workspace, clientRequestId), PENDING + validateJobId(jobId), jobId),
    async lookup(workspace, clientRequestId) {
      const value = await kv.get(idempotencyKey(workspace, clientRequestId));
      return value === null ? null : parseRecord(value).jobId;
    },
    async inspect(workspace, clientRequestId) {
      const key = idempotencyKey(workspace, clientRequestId);
      const [value, ttl] = await Promise.all([kv.get(key), kv.ttl(key)]);
      return value === null ? null : { key, ...parseRecord(value), ttlSeconds: ttl };
    },
  };
}
