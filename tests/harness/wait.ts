export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until `ok` holds for its value; fails naming `what` and the last value after `timeoutMs`. */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met in ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await sleep(50);
  }
}
