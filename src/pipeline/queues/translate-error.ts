import { SluiceError } from "../../core/errors.ts";

/**
 * BullMQ (and driver) errors translated to Sluice codes in one place. Messages are BullMQ 6.7.0's;
 * the queue conformance suite exercises each, so an upgrade that rewords one is noticed.
 */
const RULES: readonly { pattern: RegExp; code: "VALIDATION_FAILED" | "JOB_NOT_FOUND" | "CONFLICT" | "DEPENDENCY_UNAVAILABLE" }[] = [
  { pattern: /custom id cannot|cannot be integers|cannot contain :|job name|delay must be|priority must be|invalid (option|backoff)|attempts must/i, code: "VALIDATION_FAILED" },
  { pattern: /missing key for job|job .* (does not exist|not found)|missing job/i, code: "JOB_NOT_FOUND" },
  { pattern: /not in the .* state|is locked|lock mismatch|not active|is not (failed|completed)/i, code: "CONFLICT" },
  { pattern: /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|connection is closed|max retries per request|terminat|after calling end on the pool|Connection terminated/i, code: "DEPENDENCY_UNAVAILABLE" },
];

export function translateQueueError(err: unknown, context: string): unknown {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const rule = RULES.find((r) => r.pattern.test(message));
  if (!rule) return err;
  return new SluiceError(rule.code, `${context}: ${message}`, { cause: err });
}

/** Runs `fn`, translating what it throws. */
export async function translating<T>(context: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateQueueError(err, context);
  }
}
