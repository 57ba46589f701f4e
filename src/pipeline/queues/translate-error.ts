import { ErrorCode } from "bullmq";
import { SluiceError } from "../../core/errors.ts";

type QueueErrorCode = "VALIDATION_FAILED" | "JOB_NOT_FOUND" | "CONFLICT" | "DEPENDENCY_UNAVAILABLE";

/** BullMQ's finish-operation errors carry a numeric `code`, the same on every backend. */
const BY_BULLMQ_CODE: Partial<Record<ErrorCode, QueueErrorCode>> = {
  [ErrorCode.JobNotExist]: "JOB_NOT_FOUND",
  [ErrorCode.JobLockNotExist]: "CONFLICT",
  [ErrorCode.JobNotInState]: "CONFLICT",
  [ErrorCode.JobPendingChildren]: "CONFLICT",
  [ErrorCode.JobLockMismatch]: "CONFLICT",
  [ErrorCode.JobBelongsToJobScheduler]: "CONFLICT",
};

/** The rest are told apart by message (BullMQ 6.7.0's wording; translate-error.test.ts pins it). */
const BY_MESSAGE: readonly { pattern: RegExp; code: QueueErrorCode }[] = [
  { pattern: /custom id cannot|priority should|jitter should|cannot be used together|exceeds the limit/i, code: "VALIDATION_FAILED" },
  { pattern: /could not be removed because it is locked/i, code: "CONFLICT" },
  {
    pattern:
      /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|connection is closed|max retries per request|connection terminated|after calling end on the pool/i,
    code: "DEPENDENCY_UNAVAILABLE",
  },
];

/** BullMQ and driver errors as Sluice codes, in one place; anything unknown passes through unchanged. */
export function translateQueueError(err: unknown, context: string): unknown {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const bullCode = (err as { code?: unknown } | null)?.code;
  const code =
    (typeof bullCode === "number" ? BY_BULLMQ_CODE[bullCode as ErrorCode] : undefined) ??
    BY_MESSAGE.find((r) => r.pattern.test(message))?.code;
  return code ? new SluiceError(code, `${context}: ${message}`, { cause: err }) : err;
}

/** Runs `fn`, translating what it throws. */
export async function translating<T>(context: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateQueueError(err, context);
  }
}
