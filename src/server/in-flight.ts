import type { FastifyInstance } from "fastify";

declare module "fastify" {
  interface FastifyInstance {
    /** Resolves once no request is being handled, or after `timeoutMs` (a request whose client hung up may never report back). */
    drained(timeoutMs: number): Promise<void>;
  }
}

/**
 * Counts requests being handled. `close()` stops new ones, but requests already inside a
 * handler can outlive it; the process must not close its pools under them.
 */
export function trackInFlight(app: FastifyInstance): void {
  let inFlight = 0;
  let waiters: Array<() => void> = [];
  const settle = () => {
    if (inFlight > 0) return;
    for (const wake of waiters) wake();
    waiters = [];
  };
  app.addHook("onRequest", async () => {
    inFlight += 1;
  });
  app.addHook("onResponse", async () => {
    inFlight -= 1;
    settle();
  });
  app.decorate("drained", (timeoutMs: number) =>
    inFlight === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          timer.unref();
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        }),
  );
}
