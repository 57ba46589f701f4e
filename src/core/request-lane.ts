import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Which work is waiting for an answer right now. The HTTP server runs each request in the request
 * lane; everything else (queue workers, the embeddings backfill, timers) is background. A store
 * that can run only one statement at a time (embedded PGlite) serves the request lane first, so a
 * probe or an API call waits for at most the statement in flight, not for a backfill's queue.
 */
const lane = new AsyncLocalStorage<"request">();

/** Runs `fn` (and everything it starts) in the request lane. */
export function inRequestLane<T>(fn: () => T): T {
  return lane.run("request", fn);
}

export function inRequestLaneNow(): boolean {
  return lane.getStore() === "request";
}
