import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { resolve } from "node:path";
import type { SluiceConfig } from "./core/config.ts";

/**
 * `sluice sql`'s connection: the configured engine's PostgreSQL wire endpoint (DATABASE_URL, the
 * running embedded Sluice's SLUICE_SQL_PORT socket, or a stopped data folder served for one
 * command) and a pg client that runs statements on it. Root-level: it opens adapters and drivers.
 */
/** Where `sluice sql` connects, and what to close afterwards. */
export interface SqlTarget {
  /** A libpq URL without the password (that travels in PGPASSWORD, out of `ps`). */
  url: string;
  password: string | undefined;
  engine: "postgres" | "embedded (SLUICE_SQL_PORT)" | "embedded (data folder)";
  close(): Promise<void>;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

function withoutPassword(url: string): { url: string; password: string | undefined } {
  const parsed = new URL(url);
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  parsed.password = "";
  return { url: parsed.toString(), password };
}

/**
 * The embedded folder of a stopped Sluice, served for this command only on a loopback socket
 * with a one-off password, so the same client code and psql work on it. A running Sluice holds the
 * folder: then the answer is its own socket (SLUICE_SQL_PORT).
 */
async function openDataFolder(config: SluiceConfig): Promise<SqlTarget> {
  const [{ openPglite }, { startSqlSocket }, { SluiceError, isSluiceError }] = await Promise.all([
    import("./adapters/store/pglite/open.ts"),
    import("./adapters/store/pglite/sql-socket.ts"),
    import("./core/errors.ts"),
  ]);
  const folder = resolve(config.storage.dataDir, "pgdata");
  const db = await openPglite(folder).catch((err: unknown) => {
    if (isSluiceError(err) && err.code === "DATA_DIR_LOCKED") {
      throw new SluiceError(
        "DATA_DIR_LOCKED",
        `A running Sluice has ${folder} open. Start it with SLUICE_SQL_PORT and SLUICE_SQL_PASSWORD set, and run sluice sql with the same two.`,
      );
    }
    throw err;
  });
  const password = randomBytes(18).toString("base64url");
  const socket = await startSqlSocket({ db, port: 0, password });
  return {
    ...withoutPassword(socket.url(password)),
    password,
    engine: "embedded (data folder)",
    async close() {
      await socket.close();
      await db.close();
    },
  };
}

/** DATABASE_URL; else a running embedded Sluice's socket; else its folder, opened here. */
export async function openSqlTarget(config: SluiceConfig): Promise<SqlTarget> {
  const nothing = async () => undefined;
  if (config.storage.databaseUrl) return { ...withoutPassword(config.storage.databaseUrl), engine: "postgres", close: nothing };
  const { port, password } = config.sql;
  if (port > 0 && (await portAnswers(port))) {
    return {
      url: `postgres://sluice@127.0.0.1:${port}/postgres?sslmode=disable`,
      password,
      engine: "embedded (SLUICE_SQL_PORT)",
      close: nothing,
    };
  }
  return openDataFolder(config);
}

export interface ResultSet {
  command: string;
  rowCount: number | null;
  fields: Array<{ name: string }>;
  rows: Array<Record<string, unknown>>;
}

/** Runs `sql` (one or more statements) and returns every result set; values come back as PostgreSQL's text. */
export async function runSql(target: SqlTarget, sql: string): Promise<ResultSet[]> {
  const { default: pg } = await import("pg");
  // pg lets the URL's (empty) password win over a `password` option: put it back into the URL.
  const url = new URL(target.url);
  if (target.password !== undefined) url.password = encodeURIComponent(target.password);
  const client = new pg.Client({ connectionString: url.toString(), types: { getTypeParser: () => (value: string) => value } });
  try {
    await client.connect();
    const result = (await client.query(sql)) as unknown as ResultSet | ResultSet[];
    return Array.isArray(result) ? result : [result];
  } catch (err) {
    // psql's way, so scripts can match the SQLSTATE: "ERROR 42P01: relation … does not exist".
    const { severity, code, message } = err as { severity?: string; code?: string; message: string };
    throw new Error(severity && code ? `${severity} ${code}: ${message}` : message, { cause: err });
  } finally {
    await client.end();
  }
}
