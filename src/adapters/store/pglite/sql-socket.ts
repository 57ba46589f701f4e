import { createHash, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/**
 * The embedded database on a loopback PostgreSQL socket (`SLUICE_SQL_PORT`), so `psql` and the
 * seeds' SQL reach a running embedded Sluice. pglite-socket speaks the wire protocol but has no
 * authentication and shares PGlite's one session with Sluice itself; so it listens on a private
 * Unix socket, and this front asks for the operator's password and keeps clients from changing
 * the session Sluice runs in ("read-mostly": reads, and writes of one autocommitted statement).
 */
export interface SqlSocketOptions {
  db: PGlite;
  /** Loopback TCP port; 0 picks a free one. */
  port: number;
  /** What a client must send as its password (cleartext over loopback). */
  password: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** Clients connected at once. @default 4 */
  maxConnections?: number;
}

export interface SqlSocket {
  readonly port: number;
  /** A libpq URL for this socket with the given password. */
  url(password: string): string;
  close(): Promise<void>;
}

const PROTOCOL_3 = 196_608;
const SSL_REQUEST = 80_877_103;
const GSS_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;
const SESSION_COMMAND = /^(begin|start|commit|end|rollback|abort|savepoint|release|prepare|set|reset|discard|listen|unlisten|lock)\b/i;

/**
 * The first session or transaction command in `sql`, if any. Such commands would change the
 * session Sluice's own queries run in (an open transaction would hold all of Sluice), so the socket
 * refuses them. The split on `;` is naive: a `;` inside a literal can only cause a refusal, never let one through.
 */
function sessionCommandIn(sql: string): string | undefined {
  const withoutComments = sql.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/--[^\n]*/g, " ");
  for (const statement of withoutComments.split(";")) {
    const match = SESSION_COMMAND.exec(statement.trim());
    if (match?.[1]) return match[1].toUpperCase();
  }
  return undefined;
}

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function errorResponse(severity: "ERROR" | "FATAL", code: string, text: string): Buffer {
  const fields = [`S${severity}`, `V${severity}`, `C${code}`, `M${text}`].map((f) => Buffer.from(`${f}\0`, "utf8"));
  return message("E", Buffer.concat([...fields, Buffer.from([0])]));
}

const readyForQuery = () => message("Z", Buffer.from("I", "latin1"));
const askForPassword = () => message("R", Buffer.from([0, 0, 0, 3]));

/** A fixed startup for PGlite: the client's user, database and options must not touch the shared session. */
function backendStartup(): Buffer {
  const params = Buffer.from("user\0postgres\0database\0postgres\0\0", "utf8");
  const out = Buffer.alloc(8 + params.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(PROTOCOL_3, 4);
  params.copy(out, 8);
  return out;
}

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** Query text of a simple Query ('Q') or a Parse ('P': name, then text) message. */
function queryText(type: string, body: Buffer): string | undefined {
  if (type === "Q") return body.toString("utf8").replace(/\0$/, "");
  if (type !== "P") return undefined;
  const nameEnd = body.indexOf(0);
  return body.toString("utf8", nameEnd + 1, body.indexOf(0, nameEnd + 1));
}

/** One client: startup, password, then its messages to the backend, minus the session commands. */
class ClientConnection {
  private buffer = Buffer.alloc(0);
  private state: "startup" | "password" | "ready" = "startup";
  private backend: Socket | undefined;
  private discardUntilSync = false;

  constructor(
    private readonly client: Socket,
    private readonly backendPath: string,
    private readonly expected: Buffer,
  ) {
    client.on("data", (chunk: Buffer) => this.receive(chunk));
    client.on("error", () => this.close());
    client.on("close", () => this.close());
  }

  private close(): void {
    this.backend?.destroy();
    this.client.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length > 0 && !this.client.destroyed) {
      const taken = this.state === "startup" ? this.takeStartup() : this.takeMessage();
      if (!taken) return;
    }
  }

  private takeStartup(): boolean {
    if (this.buffer.length < 8) return false;
    const length = this.buffer.readInt32BE(0);
    if (this.buffer.length < length) return false;
    const code = this.buffer.readInt32BE(4);
    this.buffer = this.buffer.subarray(length);
    if (code === SSL_REQUEST || code === GSS_REQUEST) this.client.write("N");
    else if (code === CANCEL_REQUEST) this.close();
    else if (code !== PROTOCOL_3) this.refuse("08P01", "unsupported protocol version");
    else {
      this.state = "password";
      this.client.write(askForPassword());
    }
    return true;
  }

  private takeMessage(): boolean {
    if (this.buffer.length < 5) return false;
    const length = this.buffer.readInt32BE(1) + 1;
    if (this.buffer.length < length) return false;
    const whole = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    const type = whole.toString("latin1", 0, 1);
    if (this.state === "password") this.checkPassword(type, whole.subarray(5));
    else this.forward(type, whole);
    return true;
  }

  private checkPassword(type: string, body: Buffer): void {
    const given = digest(body.toString("utf8").replace(/\0$/, ""));
    if (type !== "p" || !timingSafeEqual(given, this.expected)) {
      this.refuse("28P01", "password authentication failed (the password is SLUICE_SQL_PASSWORD)");
      return;
    }
    this.state = "ready";
    const backend = createConnection(this.backendPath);
    this.backend = backend;
    backend.on("error", () => this.close());
    backend.on("close", () => this.close());
    backend.pipe(this.client);
    backend.write(backendStartup());
  }

  private forward(type: string, whole: Buffer): void {
    if (this.discardUntilSync) {
      if (type !== "S") return;
      this.discardUntilSync = false;
      this.client.write(readyForQuery());
      return;
    }
    const text = queryText(type, whole.subarray(5));
    const command = text === undefined ? undefined : sessionCommandIn(text);
    if (!command) {
      this.backend?.write(whole);
      return;
    }
    const why = `${command} is refused on Sluice's embedded database: its one session is shared with the running Sluice. Run statements one at a time (each commits on its own).`;
    this.client.write(errorResponse("ERROR", "0A000", why));
    if (type === "Q") this.client.write(readyForQuery());
    else this.discardUntilSync = true;
  }

  private refuse(code: string, text: string): void {
    this.client.end(errorResponse("FATAL", code, text));
  }
}

/**
 * What pglite-socket is given instead of the PGlite itself: each of its statements waits for a
 * transaction of Sluice's to end (PGlite's `runExclusive` alone would slip it between that
 * transaction's statements), and it never believes it owns a transaction (it would roll back
 * Sluice's when a client leaves).
 */
function sharedSessionView(db: PGlite): PGlite {
  const view = {
    waitReady: db.waitReady,
    isInTransaction: () => false,
    exec: db.exec.bind(db),
    execProtocolRawStream: db.execProtocolRawStream.bind(db),
    runExclusive: <T>(fn: () => Promise<T>) => db._runExclusiveTransaction(() => db.runExclusive(fn)),
  };
  return view as unknown as PGlite;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

export async function startSqlSocket(options: SqlSocketOptions): Promise<SqlSocket> {
  const host = options.host ?? "127.0.0.1";
  const privateDir = mkdtempSync(join(tmpdir(), "sluice-sql-"));
  const backendPath = join(privateDir, "pglite.sock");
  const backend = new PGLiteSocketServer({
    db: sharedSessionView(options.db),
    path: backendPath,
    maxConnections: options.maxConnections ?? 4,
  });
  await backend.start();
  const expected = digest(options.password);
  const clients = new Set<Socket>();
  const front = createServer((socket) => {
    clients.add(socket);
    socket.once("close", () => clients.delete(socket));
    new ClientConnection(socket, backendPath, expected);
  });
  front.maxConnections = options.maxConnections ?? 4;
  let port: number;
  try {
    port = await listen(front, options.port, host);
  } catch (err) {
    await backend.stop();
    rmSync(privateDir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: (password) => `postgres://sluice:${encodeURIComponent(password)}@${host}:${port}/postgres?sslmode=disable`,
    async close() {
      await new Promise<void>((resolve) => {
        front.close(() => resolve());
        for (const socket of clients) socket.destroy();
      });
      await backend.stop();
      rmSync(privateDir, { recursive: true, force: true });
    },
  };
}
