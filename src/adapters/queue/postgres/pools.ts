import { EventEmitter } from "node:events";
import pg from "pg";

/**
 * The `pg.Pool`-shaped object handed to BullMQ's Postgres backend. BullMQ uses a pool it is given in
 * two ways: short queries (`query`) and long-lived sessions (`connect`: one LISTEN connection held by
 * every Worker and QueueEvents, plus a brief one at start-up). On a single pool those sessions
 * would eat the query slots (13 queues with a worker each would starve a pool of 10), so they come
 * from a second pool, the way BullMQ itself opens a standalone LISTEN client when it owns the pool.
 */
export interface PgPoolPairOptions {
  connectionString: string;
  /** Size of the query pool. */
  querySize: number;
  /** Ceiling on concurrent sessions (LISTEN clients). */
  sessionMax: number;
  /** Schema BullMQ's unqualified command SQL must resolve in. */
  schema: string;
}

export class PgPoolPair extends EventEmitter {
  /** Read by BullMQ: keepAlive lets it block up to an hour on LISTEN instead of re-polling every 10 s. */
  readonly options: { keepAlive: true; max: number };
  readonly queries: pg.Pool;
  readonly sessions: pg.Pool;

  constructor(options: PgPoolPairOptions) {
    super();
    // Every BullMQ Queue and Worker on the backend adds its own 'error' listener.
    this.setMaxListeners(0);
    const common = {
      connectionString: options.connectionString,
      // BullMQ's command files use unqualified names; a pool it did not build must pin the schema itself.
      options: `-c search_path="${options.schema}"`,
      keepAlive: true,
    };
    this.options = { keepAlive: true, max: options.querySize };
    this.queries = new pg.Pool({ ...common, max: options.querySize });
    this.sessions = new pg.Pool({ ...common, max: options.sessionMax, connectionTimeoutMillis: 30_000 });
    for (const pool of [this.queries, this.sessions]) {
      pool.on("error", (err) => this.#forwardError(err));
      // pg-pool takes its error listener off a client it hands out (BullMQ's sessions): a server restart
      // while one is held would emit 'error' to nobody and crash the process. Its next query reports it.
      pool.on("connect", (client) => client.on("error", () => undefined));
    }
  }

  /** pg.Pool emits 'error' for idle clients that drop; an emit with no listener would crash the process. */
  #forwardError(err: Error): void {
    if (this.listenerCount("error") > 0) this.emit("error", err);
  }

  query(text: string, params?: readonly unknown[]): Promise<pg.QueryResult> {
    return this.queries.query(text, params as unknown[] | undefined);
  }

  connect(): Promise<pg.PoolClient> {
    return this.sessions.connect();
  }

  async end(): Promise<void> {
    await Promise.all([this.queries.end(), this.sessions.end()]);
  }
}
