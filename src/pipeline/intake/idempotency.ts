import { SluiceError } from "../../core/errors.ts";
import type { Kv } from "../../ports/kv.ts";
import { validateWorkspaceId } from "./workspaces.ts";

/**
 * Idempotent intake: the first request with a `client_request_id` in a workspace claims it for a
 * job id; every repeat within the TTL (default 24 h) gets that same job id back. On Redis the
 * record is the key `ai:idempotency:{workspace}:{client_request_id}`, set with SET NX and EX, as
 * runbook 001 inspects it; without Redis it is the same key in the `kv_entries` table.
 */
export type ClaimResult = { created: true; jobId: string } | { created: false; jobId: string };

export interface IdempotencyRecord {
  key: string;
  jobId: string;
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
  /** Claims the id for `jobId`; concurrent claims of one id in one workspace have one winner. */
  claim(workspace: string, clientRequestId: string, jobId: string): Promise<ClaimResult>;
  /** The job id holding the claim, or null. */
  lookup(workspace: string, clientRequestId: string): Promise<string | null>;
  /** The record as an operator inspects it (key, job id, TTL), or null. */
  inspect(workspace: string, clientRequestId: string): Promise<IdempotencyRecord | null>;
  /**
   * Undoes this caller's claim (when enqueueing its job failed), so a retry can create the job;
   * leaves a claim made by anyone else in place. True when it removed the claim.
   */
  release(workspace: string, clientRequestId: string, jobId: string): Promise<boolean>;
}

export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400;
const MAX_CLIENT_REQUEST_ID = 255;

/** Throws VALIDATION_FAILED unless the id is 1-255 characters without control characters. */
export function validateClientRequestId(value: unknown): string {
  // eslint-disable-next-line no-control-regex
  if (typeof value === "string" && value.length > 0 && value.length <= MAX_CLIENT_REQUEST_ID && !/[\u0000-\u001f\u007f]/.test(value)) return value;
  throw new SluiceError("VALIDATION_FAILED", `client_request_id must be 1-${MAX_CLIENT_REQUEST_ID} characters without control characters`, {
    details: { field: "client_request_id" },
  });
}

/** The record's key, exactly as runbook 001 reads it with `redis-cli TTL`. */
export function idempotencyKey(workspace: string, clientRequestId: string): string {
  return `ai:idempotency:${validateWorkspaceId(workspace)}:${validateClientRequestId(clientRequestId)}`;
}

export function createIdempotency(options: IdempotencyOptions): Idempotency {
  const { kv } = options;
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_SECONDS;
  return {
    ttlSeconds,
    async claim(workspace, clientRequestId, jobId) {
      if (typeof jobId !== "string" || jobId.length === 0) throw new SluiceError("VALIDATION_FAILED", "A job id is required to claim a client_request_id");
      const result = await kv.setIfAbsent(idempotencyKey(workspace, clientRequestId), jobId, { ttlSeconds });
      return result.won ? { created: true, jobId } : { created: false, jobId: result.existing };
    },
    lookup: (workspace, clientRequestId) => kv.get(idempotencyKey(workspace, clientRequestId)),
    async inspect(workspace, clientRequestId) {
      const key = idempotencyKey(workspace, clientRequestId);
      const [jobId, ttl] = await Promise.all([kv.get(key), kv.ttl(key)]);
      return jobId === null ? null : { key, jobId, ttlSeconds: ttl };
    },
    release: (workspace, clientRequestId, jobId) => kv.deleteIfValue(idempotencyKey(workspace, clientRequestId), jobId),
  };
}
