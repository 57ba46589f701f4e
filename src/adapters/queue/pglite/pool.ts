import { EventEmitter } from "node:events";
import { types, type PGlite, type Results, type SerializerOptions, type Transaction } from "@electric-sql/pglite";
import { checkedSerializers, yieldToEventLoop } from "../../store/pglite/query-options.ts";
import { gateFor } from "../../store/pglite/statement-gate.ts";
import { classifyStatement, type Statement } from "./statements.ts";

/**
 * A `pg.Pool`-shaped object over ONE PGlite instance, so BullMQ's Postgres backend runs in-process
 * (embedded mode). It covers exactly the surface BullMQ 6.7.0 uses (see its `postgres/pg-types.d.ts`):
 * `query`, `connect` -> client (`query`, `release`, `on('notification')`), `end`, `on('error')`.
 *
 * - Parameterised statements go to PGlite's `query`; parameterless text (BullMQ's multi-statement
 *   migrations) goes to `exec`.
 * - LISTEN/UNLISTEN on a client map to PGlite's `listen`, delivered as `'notification'` events.
 * - A client that issues BEGIN holds a PGlite transaction (and so the whole instance, the Sluice
 *   store included) until COMMIT/ROLLBACK/release; everyone else waits on PGlite's own mutex.
 * - int8 and numeric come back as text, as `pg` returns them (Sluice's store parsers are per query
 *   and never apply here).
 * - Each client's `application_name` is emulated, so BullMQ's worker discovery (`getWorkers`) sees
 *   one named "connection" per worker instead of the single shared session.
 */
export interface PgNotificationMessage {
  channel: string;
  payload?: string;
  processId?: number;
}

export interface PgResult<R = Record<string, unknown>> {
  rows: R[];
  rowCount: number;
  command?: string | undefined;
  fields: { name: string; dataTypeID: number }[];
}

export interface PglitePoolOptions {
  /**
   * Schema appended to the session's `search_path`, so BullMQ's unqualified command SQL resolves
   * while Sluice's own objects (earlier in the path) keep resolving first.
   * @default "bullmq"
   */
  schema?: string;
}

const INT8 = 20;
const INT8_ARRAY = 1016;
const NUMERIC = 1700;
const NUMERIC_ARRAY = 1231;
const asText = (value: string): string => value;
/** What node-postgres returns by default for the types PGlite parses differently. */
const PG_PARSERS = {
  [INT8]: asText,
  [NUMERIC]: asText,
  [INT8_ARRAY]: (value: string): unknown => types.arrayParser(value, asText, INT8_ARRAY) as unknown,
  [NUMERIC_ARRAY]: (value: string): unknown => types.arrayParser(value, asText, NUMERIC_ARRAY) as unknown,
};

type Runner = Pick<PGlite | Transaction, "query" | "exec">;
/** Per query: the instance-wide settings stay PGlite's (the store passes its own). */
type Options = { parsers: typeof PG_PARSERS; serializers: SerializerOptions };

function toPgResult<R>(result: Results<R>): PgResult<R> {
  return {
    rows: result.rows,
    rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length,
    command: result.command,
    fields: result.fields,
  };
}

const EMPTY: PgResult<never> = { rows: [], rowCount: 0, fields: [] };

async function run<R>(runner: Runner, options: Options, text: string, params: readonly unknown[] | undefined): Promise<PgResult<R>> {
  if (params && params.length > 0) return toPgResult(await runner.query<R>(text, [...params], options));
  // Parameterless text may hold several statements (BullMQ's migration files): the simple protocol takes them.
  const results = await runner.exec(text, { parsers: options.parsers });
  const last = results[results.length - 1];
  return last ? toPgResult(last as Results<R>) : EMPTY;
}

/** A statement outside a transaction waits its turn at the instance's gate (statement-gate.ts). */
function runOutside<R>(db: PGlite, options: Options, text: string, params: readonly unknown[] | undefined): Promise<PgResult<R>> {
  return gateFor(db).run(() => run<R>(db, options, text, params));
}

/** Inside a transaction (which holds the gate) each statement still lets the API's sockets in between. */
async function runInside<R>(tx: Transaction, options: Options, text: string, params: readonly unknown[] | undefined): Promise<PgResult<R>> {
  await yieldToEventLoop();
  return run<R>(tx, options, text, params);
}

interface OpenTransaction {
  tx: Transaction;
  end(rollback: boolean): Promise<void>;
}

/** Starts a PGlite transaction whose callback stays open until `end` is called; it holds the instance's gate until then. */
async function openTransaction(db: PGlite): Promise<OpenTransaction> {
  const gate = gateFor(db);
  await gate.acquire();
  try {
    const open = await openHeldTransaction(db);
    return {
      tx: open.tx,
      end: (rollback) => open.end(rollback).finally(() => gate.release()),
    };
  } catch (err) {
    gate.release();
    throw err;
  }
}

async function openHeldTransaction(db: PGlite): Promise<OpenTransaction> {
  let finish!: (rollback: boolean) => void;
  const ended = new Promise<boolean>((resolve) => (finish = resolve));
  let started!: (tx: Transaction) => void;
  const ready = new Promise<Transaction>((resolve) => (started = resolve));
  const done = db.transaction(async (tx) => {
    started(tx);
    if ((await ended) && !tx.closed) await tx.rollback();
  });
  const tx = await Promise.race([ready, done.then(() => Promise.reject(new Error("PGlite transaction ended before it began")))]);
  return {
    tx,
    async end(rollback) {
      finish(rollback);
      await done;
    },
  };
}

export class PgliteClient extends EventEmitter {
  #tx: OpenTransaction | undefined;
  #listening = new Map<string, () => Promise<void>>();
  #released = false;
  /** Emulated `application_name`, read by the pool's client list. */
  applicationName = "";

  constructor(
    private readonly db: PGlite,
    private readonly pool: PglitePool,
  ) {
    super();
  }

  async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<PgResult<R>> {
    if (this.#released) throw new Error("Client was released back to the pool");
    return this.#statement<R>(classifyStatement(text), text, params);
  }

  async #statement<R>(statement: Statement, text: string, params: readonly unknown[] | undefined): Promise<PgResult<R>> {
    switch (statement.kind) {
      case "begin":
        if (!this.#tx) this.#tx = await openTransaction(this.db);
        return { ...EMPTY, command: "BEGIN" };
      case "commit":
      case "rollback":
        await this.#endTransaction(statement.kind === "rollback");
        return { ...EMPTY, command: statement.kind.toUpperCase() };
      case "listen":
        await this.#listen(statement.channel);
        return { ...EMPTY, command: "LISTEN" };
      case "unlisten":
        await this.#unlisten(statement.channel);
        return { ...EMPTY, command: "UNLISTEN" };
      case "set-application-name": {
        // Kept per client: naming the one shared session would make every worker the same "connection".
        this.applicationName = typeof params?.[0] === "string" ? params[0] : "";
        return { rows: [{ set_config: this.applicationName } as R], rowCount: 1, command: "SELECT", fields: [] };
      }
      case "client-list":
        return this.pool.clientList<R>();
      case "other":
        return this.#tx
          ? runInside<R>(this.#tx.tx, this.pool.queryOptions, text, params)
          : runOutside<R>(this.db, this.pool.queryOptions, text, params);
    }
  }

  async #endTransaction(rollback: boolean): Promise<void> {
    const open = this.#tx;
    this.#tx = undefined;
    await open?.end(rollback);
  }

  async #listen(channel: string): Promise<void> {
    if (this.#listening.has(channel)) return;
    const deliver = (payload: string) => this.emit("notification", { channel, payload, processId: 0 } satisfies PgNotificationMessage);
    // PGlite lower-cases an unquoted name; quoting keeps the channel exactly as parsed.
    const quoted = `"${channel.replaceAll('"', '""')}"`;
    this.#listening.set(channel, await this.db.listen(quoted, deliver, this.#tx?.tx));
  }

  /** `channel` "*" drops them all. */
  async #unlisten(channel: string): Promise<void> {
    const channels = channel === "*" ? [...this.#listening.keys()] : [channel];
    for (const name of channels) {
      const stop = this.#listening.get(name);
      this.#listening.delete(name);
      await stop?.();
    }
  }

  /** Returns the client: an open transaction is rolled back and its LISTENs are dropped. */
  release(_destroy?: boolean): void {
    if (this.#released) return;
    this.#released = true;
    this.pool.forget(this);
    // Like pg, an 'error' with nobody listening must not crash the process.
    void this.#close().catch((err: unknown) => this.listenerCount("error") > 0 && this.emit("error", err));
  }

  async #close(): Promise<void> {
    await this.#endTransaction(true);
    await this.#unlisten("*");
    this.removeAllListeners("notification");
  }

  /** Closes this client and waits for its transaction and LISTENs to be undone. */
  async closeNow(): Promise<void> {
    this.#released = true;
    this.pool.forget(this);
    await this.#close();
  }
}

export class PglitePool extends EventEmitter {
  /** Read by BullMQ: an in-process connection cannot drop silently, so long blocking waits are safe. */
  readonly options = { keepAlive: true, max: 1 };
  #clients = new Set<PgliteClient>();
  #ended = false;
  /** @internal */
  readonly queryOptions: Options;

  constructor(readonly db: PGlite) {
    super();
    this.queryOptions = { parsers: PG_PARSERS, serializers: checkedSerializers(db) };
    // Every BullMQ Queue and Worker on the backend adds its own 'error' listener.
    this.setMaxListeners(0);
  }

  async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<PgResult<R>> {
    // node-postgres' exact wording: BullMQ matches it to ignore stragglers during shutdown.
    if (this.#ended) throw new Error("Cannot use a pool after calling end on the pool");
    const statement = classifyStatement(text);
    if (statement.kind === "client-list") return this.clientList<R>();
    if (statement.kind !== "other") throw new Error(`${statement.kind} needs a dedicated client: use pool.connect()`);
    return runOutside<R>(this.db, this.queryOptions, text, params);
  }

  async connect(): Promise<PgliteClient> {
    if (this.#ended) throw new Error("Cannot use a pool after calling end on the pool");
    const client = new PgliteClient(this.db, this);
    this.#clients.add(client);
    this.emit("connect", client);
    return client;
  }

  /** Releases every client; the PGlite instance stays open (its owner closes it). */
  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await Promise.all([...this.#clients].map((c) => c.closeNow()));
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** @internal */
  forget(client: PgliteClient): void {
    this.#clients.delete(client);
  }

  /** @internal The emulated `pg_stat_activity` rows: one per named client. */
  clientList<R>(): PgResult<R> {
    const rows = [...this.#clients].filter((c) => c.applicationName !== "").map((c) => ({ application_name: c.applicationName }) as R);
    return { rows, rowCount: rows.length, command: "SELECT", fields: [{ name: "application_name", dataTypeID: 25 }] };
  }
}

/**
 * Builds the pool and appends `schema` to the session's search_path (PGlite has one session,
 * shared with the Sluice store, so the schema goes last: Sluice's objects keep precedence).
 */
export async function createPglitePool(db: PGlite, options: PglitePoolOptions = {}): Promise<PglitePool> {
  const schema = options.schema ?? "bullmq";
  const { rows } = await db.query<{ search_path: string }>("SHOW search_path");
  const current = rows[0]?.search_path ?? '"$user", public';
  const entries = current.split(",").map((s) => s.trim());
  if (!entries.includes(schema) && !entries.includes(`"${schema}"`)) {
    await db.query(`SELECT set_config('search_path', $1, false)`, [[...entries, `"${schema}"`].join(", ")]);
  }
  return new PglitePool(db);
}
