/**
 * The SQL store port. One dialect (PostgreSQL) on every adapter: embedded PGlite and a
 * PostgreSQL server over the wire. Services call named query functions that take a `Queryable`;
 * nobody scatters SQL through handlers.
 */
export interface QueryResult<R> {
  rows: R[];
  /** Rows affected (INSERT/UPDATE/DELETE) or returned (SELECT). */
  rowCount: number;
}

export interface Queryable {
  /**
   * Runs one parameterised statement ($1, $2, ...). int8 and numeric come back as JS numbers,
   * timestamps as Date, json/jsonb parsed, the same on every adapter.
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

/** A connection inside a transaction. */
export interface StoreTransaction extends Queryable {
  /** Runs a script of several statements without parameters. */
  exec(sql: string): Promise<void>;
}

type StoreKind = "pglite" | "postgres";

export interface Store extends Queryable {
  readonly kind: StoreKind;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` in one transaction on one connection; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** Round-trips to the database; throws when it cannot. */
  ping(): Promise<void>;
  /** Whether the server can load the pgvector extension. */
  hasVectorExtension(): Promise<boolean>;
  /**
   * A consistent gzipped copy of the whole database while it runs, for the embedded store
   * (PGlite's data folder as a tarball). Absent on a server store: back that up with pg_dump.
   */
  snapshot?(): Promise<Uint8Array>;
  /** Closes connections. Idempotent. */
  close(): Promise<void>;
}
