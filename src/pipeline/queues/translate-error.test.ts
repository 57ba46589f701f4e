import { describe, expect, it } from "vitest";
import { ErrorCode } from "bullmq";
import { SluiceError } from "../../core/errors.ts";
import { translateQueueError } from "./translate-error.ts";

const bullError = (message: string, code?: number) => Object.assign(new Error(message), code === undefined ? {} : { code });

describe("translateQueueError", () => {
  it.each([
    [bullError("Missing key for job 7. retryJob", ErrorCode.JobNotExist), "JOB_NOT_FOUND"],
    [bullError("Job 7 is not in the failed state. retryJob", ErrorCode.JobNotInState), "CONFLICT"],
    [bullError("Lock mismatch for job 7. Cmd moveToFinished from active", ErrorCode.JobLockMismatch), "CONFLICT"],
    [bullError("Job 7 could not be removed because it is locked by another worker"), "CONFLICT"],
    [bullError("Custom Id cannot be integers"), "VALIDATION_FAILED"],
    [bullError("Priority should be between 0 and 2097152"), "VALIDATION_FAILED"],
    [bullError("connect ECONNREFUSED 127.0.0.1:6379"), "DEPENDENCY_UNAVAILABLE"],
    [bullError("Reached the max retries per request limit (which is 3)."), "DEPENDENCY_UNAVAILABLE"],
    [bullError("Cannot use a pool after calling end on the pool"), "DEPENDENCY_UNAVAILABLE"],
  ])("maps %s to %s", (err, code) => {
    const translated = translateQueueError(err, "op");
    expect(translated).toBeInstanceOf(SluiceError);
    expect(translated).toMatchObject({ code, cause: err });
  });

  it("passes unknown errors and Sluice errors through unchanged", () => {
    const unknown = new Error("something else");
    expect(translateQueueError(unknown, "op")).toBe(unknown);
    const ours = new SluiceError("QUEUE_NOT_FOUND");
    expect(translateQueueError(ours, "op")).toBe(ours);
  });
});
