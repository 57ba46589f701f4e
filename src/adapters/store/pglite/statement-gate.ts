import type { PGlite } from "@electric-sql/pglite";
import { inRequestLaneNow } from "../../../core/request-lane.ts";

/**
 * Orders the statements (and transactions) that Sluice sends to its one PGlite instance, in two
 * lanes: statements made while serving an HTTP request go ahead of queued background ones (queue
 * workers, the embeddings backfill). PGlite's own mutex is first come, first served, so during a
 * backfill a request used to wait behind every statement already queued (seconds); here it waits
 * for the one in flight.
 *
 * Between two holders the gate lets one turn of the event loop pass (PGlite answers through
 * already-resolved promises, so otherwise a loop of statements would keep timers and sockets out):
 * requests that arrived meanwhile get parsed and queue their statements before the next holder is
 * chosen.
 */
export class StatementGate {
  #busy = false;
  readonly #request: Array<() => void> = [];
  readonly #background: Array<() => void> = [];
  #requestsInARow = 0;

  /** Background work still gets one turn after this many request-lane holders in a row. */
  static readonly REQUEST_BURST = 16;

  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Resolves when the caller holds the gate; it must call `release` exactly once after. */
  acquire(): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => (inRequestLaneNow() ? this.#request : this.#background).push(resolve));
  }

  release(): void {
    setImmediate(() => this.#handOver());
  }

  /** Statements waiting, per lane (tests and diagnostics). */
  get waiting(): { request: number; background: number } {
    return { request: this.#request.length, background: this.#background.length };
  }

  #handOver(): void {
    const next = this.#next();
    if (next) next();
    else this.#busy = false;
  }

  #next(): (() => void) | undefined {
    const backgroundsTurn = this.#requestsInARow >= StatementGate.REQUEST_BURST && this.#background.length > 0;
    if (this.#request.length > 0 && !backgroundsTurn) {
      this.#requestsInARow += 1;
      return this.#request.shift();
    }
    this.#requestsInARow = 0;
    return this.#background.shift();
  }
}

const gates = new WeakMap<PGlite, StatementGate>();

/** The one gate of a PGlite instance, shared by the store and the embedded queue backend. */
export function gateFor(db: PGlite): StatementGate {
  let gate = gates.get(db);
  if (!gate) {
    gate = new StatementGate();
    gates.set(db, gate);
  }
  return gate;
}
