import type { JobView } from "./job-view.ts";

/** Longest a `GET /ai/jobs/{id}?wait=N` may hold its request. */
export const MAX_JOB_WAIT_SECONDS = 60;

const SETTLED = new Set(["completed", "failed"]);
const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 1_000;

const isSettled = (job: Pick<JobView, "status">): boolean => SETTLED.has(job.status);

export interface WaitForJobOptions {
  /** How long to wait for the job to settle before answering with its current state. */
  waitMs: number;
  /** Ends the wait early (the client went away, the server is closing): answers with the current state. */
  signal?: AbortSignal | undefined;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Reads the job until it is completed or failed, or the wait is over. It polls job state with a
 * backoff (50 ms doubling to 1 s) rather than listening to QueueEvents, which can miss events on
 * the Postgres backend; each read takes a connection only for its own query, so a thousand waiters
 * hold no connection between reads.
 */
export async function waitForJob(read: () => Promise<JobView>, options: WaitForJobOptions): Promise<JobView> {
  const deadline = Date.now() + Math.max(0, options.waitMs);
  let delay = FIRST_POLL_MS;
  for (;;) {
    const job = await read();
    const left = deadline - Date.now();
    if (isSettled(job) || left <= 0 || options.signal?.aborted) return job;
    await pause(Math.min(delay, left), options.signal);
    delay = Math.min(delay * 2, MAX_POLL_MS);
  }
}
