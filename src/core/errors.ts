/**
 * One base error with a stable string code and an HTTP status, and one catalogue of every code.
 * Codes are part of the API contract: clients and runbooks match on them, so never rename one.
 */
export const ERROR_CATALOGUE = {
  CONFIG_INVALID: { status: 500, retryable: false, message: "Configuration is invalid" },
  VALIDATION_FAILED: { status: 400, retryable: false, message: "Request failed validation" },
  BODY_MALFORMED: { status: 400, retryable: false, message: "Request body is not valid JSON" },
  BODY_TOO_LARGE: { status: 413, retryable: false, message: "Request body is too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, message: "Unsupported content type" },
  ROUTE_NOT_FOUND: { status: 404, retryable: false, message: "No such route" },
  NOT_FOUND: { status: 404, retryable: false, message: "Not found" },
  QUEUE_NOT_FOUND: { status: 404, retryable: false, message: "No such queue" },
  JOB_TYPE_UNKNOWN: { status: 400, retryable: false, message: "Unknown job type" },
  JOB_NOT_FOUND: { status: 404, retryable: false, message: "No such job" },
  UNAUTHENTICATED: { status: 401, retryable: false, message: "A valid API key is required" },
  FORBIDDEN_SCOPE: { status: 403, retryable: false, message: "The API key lacks a required scope" },
  CONFLICT: { status: 409, retryable: false, message: "Conflicts with the current state" },
  RATE_LIMITED: { status: 429, retryable: true, message: "Too many requests" },
  NOT_READY: { status: 503, retryable: true, message: "Service is not ready" },
  DEPENDENCY_UNAVAILABLE: { status: 503, retryable: true, message: "A dependency is unavailable" },
  PGVECTOR_MISSING: { status: 500, retryable: false, message: "pgvector is not installed on this server" },
  DATA_DIR_LOCKED: { status: 409, retryable: false, message: "Another process has the data folder open" },
  MIGRATION_FAILED: { status: 500, retryable: false, message: "Database migration failed" },
  REDIS_EVICTION_POLICY: { status: 500, retryable: false, message: "Queue Redis evicts keys" },
  PROVIDER_ERROR: { status: 502, retryable: true, message: "The AI provider failed" },
  PROVIDER_TIMEOUT: { status: 504, retryable: true, message: "The AI provider did not answer in time" },
  PROVIDER_BAD_REQUEST: { status: 400, retryable: false, message: "The AI provider rejected the request" },
  PROVIDER_AUTH: { status: 502, retryable: false, message: "The AI provider refused Sluice's credentials" },
  PROVIDER_UNAVAILABLE: { status: 503, retryable: true, message: "No AI provider route is available (circuit open or attempts spent)" },
  PROVIDER_UNSUPPORTED: { status: 400, retryable: false, message: "The AI provider does not support this operation" },
  MODEL_NOT_ALLOWED: { status: 400, retryable: false, message: "The model is not one this server is configured to use" },
  PROVIDER_NOT_CONFIGURED: { status: 400, retryable: false, message: "No such AI provider is configured" },
  TASK_DISABLED: { status: 503, retryable: true, message: "This task type is switched off by a kill switch" },
  MAX_WAIT_EXCEEDED: {
    status: 503,
    retryable: false,
    message: "The job waited longer than AI_MAX_WAIT_FOR_PROVIDER_MS for an AI provider or a dependency to take it",
  },
  JOB_STALLED: {
    status: 500,
    retryable: false,
    message:
      "The job's worker stopped while running it (crashed, killed or blocked) more often than the queue allows; it was not run again",
  },
  BUDGET_EXHAUSTED: { status: 429, retryable: true, message: "The workspace has spent its daily token budget" },
  FLAG_INVALID: { status: 400, retryable: false, message: "Invalid runtime flag name or value" },
  VECTOR_DIMENSION_MISMATCH: { status: 400, retryable: false, message: "The vector's dimension is not the configured embedding dimension" },
  EMBEDDINGS_UNAVAILABLE: {
    status: 503,
    retryable: false,
    message: "Embeddings and vector search are off on this server (VECTOR_SEARCH_ENABLED=false or no pgvector)",
  },
  URL_MALFORMED: { status: 400, retryable: false, message: "The request URL is not valid" },
  TEXT_INVALID: { status: 400, retryable: false, message: "Text contains a NUL character or an unpaired UTF-16 surrogate" },
  URI_TOO_LONG: { status: 414, retryable: false, message: "A path parameter is too long" },
  HEADERS_TOO_LARGE: { status: 431, retryable: false, message: "Request headers are too large" },
  REQUEST_TIMEOUT: { status: 408, retryable: false, message: "The request was not received in time" },
  TASK_FAILED: { status: 500, retryable: true, message: "The job's task failed; an operator can see why in the queue admin API" },
  PIPELINE_NOT_FOUND: { status: 404, retryable: false, message: "No such pipeline" },
  RUN_NOT_FOUND: { status: 404, retryable: false, message: "No such run" },
  STEP_NOT_FOUND: { status: 404, retryable: false, message: "The run has no step of that name" },
  ENTITY_NOT_FOUND: { status: 404, retryable: false, message: "No run or state for that entity" },
  RUN_NONDETERMINISTIC: {
    status: 409,
    retryable: false,
    message: "The pipeline's steps differ from the ones its run recorded (a repeated step name, or code whose shape changed)",
  },
  STATE_TRANSITION_NOT_ALLOWED: { status: 409, retryable: false, message: "The pipeline declares no such state transition" },
  STEP_FAILED: { status: 500, retryable: true, message: "A pipeline step failed" },
  STEP_UNAVAILABLE: {
    status: 501,
    retryable: false,
    message: "This kind of step is not wired on this server (no action executor or approval requester)",
  },
  ACTIONS_DISABLED: { status: 503, retryable: true, message: "Actions are switched off (ACTIONS_ENABLED / flag actions.enabled)" },
  ACTION_NOT_ALLOWED: { status: 403, retryable: false, message: "The action is not on the workspace's allowlist" },
  ACTION_UNKNOWN: { status: 404, retryable: false, message: "No such action is registered" },
  ACTION_ARGS_INVALID: { status: 400, retryable: false, message: "The action's arguments failed validation" },
  ACTION_APPROVAL_REQUIRED: {
    status: 403,
    retryable: false,
    message: "The action needs a person's approval first (run it from a pipeline with an approval step)",
  },
  ACTION_KEY_REUSED: {
    status: 409,
    retryable: false,
    message: "The idempotency key was already used for another action or other arguments",
  },
  ACTION_IN_PROGRESS: { status: 409, retryable: true, message: "An execution with this idempotency key is running now" },
  ACTION_FAILED: { status: 502, retryable: true, message: "The action's outside call failed" },
  ACTION_NOT_CONFIGURED: { status: 503, retryable: false, message: "The action's service is not configured on this server" },
  ACTION_SKIPPED: {
    status: 409,
    retryable: false,
    message: "A person decided not to run this execution again after its outcome was unknown",
  },
  APPROVAL_NOT_FOUND: { status: 404, retryable: false, message: "No such approval task" },
  APPROVAL_ALREADY_DECIDED: { status: 409, retryable: false, message: "The approval task is already decided" },
  SCHEDULE_NOT_FOUND: { status: 404, retryable: false, message: "No such schedule" },
  SCHEDULE_INVALID: { status: 400, retryable: false, message: "Invalid schedule: cron pattern, time zone or target" },
  SCHEDULE_TARGET_UNAVAILABLE: {
    status: 400,
    retryable: false,
    message: "This server cannot start the schedule's target (pipeline runs are not available)",
  },
  WEBHOOK_URL_REFUSED: {
    status: 400,
    retryable: false,
    message: "The callback URL is not one Sluice will call (http or https to a public host)",
  },
  WEBHOOK_SECRET_MISSING: {
    status: 400,
    retryable: false,
    message: "No webhook signing secret: set WEBHOOK_SIGNING_SECRET or rotate a workspace secret",
  },
  WEBHOOK_DELIVERY_NOT_FOUND: { status: 404, retryable: false, message: "No such webhook delivery" },
  APPROVAL_INVALID: {
    status: 400,
    retryable: false,
    message: "The approval task given does not approve this call (workspace, status, action or arguments differ)",
  },
  APPROVAL_USED: {
    status: 409,
    retryable: false,
    message:
      "The approval task already authorised another execution: an approval is used once (retry with that execution's idempotency key)",
  },
  INTERNAL: { status: 500, retryable: false, message: "Internal error" },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface SluiceErrorOptions {
  cause?: unknown;
  details?: unknown;
  /** Overrides the catalogue's retryability, e.g. a provider error that says so. */
  retryable?: boolean;
}

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, options: SluiceErrorOptions = {}) {
    const entry = ERROR_CATALOGUE[code];
    super(message ?? entry.message, { cause: options.cause });
    this.name = "SluiceError";
    this.code = code;
    this.status = entry.status;
    this.retryable = options.retryable ?? entry.retryable;
    this.details = options.details;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    const body: { code: ErrorCode; message: string; details?: unknown } = { code: this.code, message: this.message };
    if (this.details !== undefined) body.details = this.details;
    return { error: body };
  }
}

/** A 429 that carries when to come back, so callers honour it rather than guess. */
export class RateLimitedError extends SluiceError {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number, message?: string, options: SluiceErrorOptions = {}) {
    super("RATE_LIMITED", message, options);
    this.name = "RateLimitedError";
    this.retryAfterMs = retryAfterMs;
  }
}

/** Codes of work refused for now: an operator's hold, or a provider that cannot take the call yet. */
export type RetryLaterCode = "TASK_DISABLED" | "BUDGET_EXHAUSTED" | "PROVIDER_UNAVAILABLE";

/**
 * Work refused for now (a kill switch, a spent budget, a provider whose breaker is open), not
 * failed: intake answers with `Retry-After`, and a queued job that meets it is put back, delayed by
 * `retryAfterMs`, without spending one of its attempts.
 */
export class RetryLaterError extends SluiceError {
  readonly retryAfterMs: number;
  constructor(code: RetryLaterCode, retryAfterMs: number, message?: string, options: SluiceErrorOptions = {}) {
    super(code, message, options);
    this.name = "RetryLaterError";
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Throw from a step's code, or a task's handler, to fail it at once without spending its other
 * attempts (BullMQ's UnrecoverableError, without importing BullMQ into user code).
 */
export class NonRetryableError extends Error {
  readonly code: string;
  constructor(message: string, code = "STEP_FAILED") {
    super(message);
    this.name = "NonRetryableError";
    this.code = code;
  }
}

/**
 * Codes whose text can carry what only an operator should see: driver messages with hosts and
 * ports, client-library advice, provider answers. Callers outside the operator get the catalogue's
 * message for these; the whole text is in the log and the operator's views.
 */
const CARRIES_INTERNALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "INTERNAL",
  "DEPENDENCY_UNAVAILABLE",
  "MIGRATION_FAILED",
  "CONFIG_INVALID",
  "REDIS_EVICTION_POLICY",
  "PROVIDER_ERROR",
  "PROVIDER_TIMEOUT",
  "PROVIDER_UNAVAILABLE",
  "PROVIDER_AUTH",
]);

export function carriesInternals(code: ErrorCode): boolean {
  return CARRIES_INTERNALS.has(code);
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, value);
}

export function isSluiceError(value: unknown): value is SluiceError {
  return value instanceof SluiceError;
}
