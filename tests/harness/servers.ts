import { spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { spawnTracked, stopTracked } from "./processes.ts";

/**
 * Real Redis and PostgreSQL servers from Debian's packages, on random free ports in temporary
 * directories (never 6379/5432). The test runner (scripts/test.mjs) installs the packages.
 */
export interface RunningServer {
  url: string;
  port: number;
  /** The server's process group: its leader's pid (under root, `runuser` in front of postgres). */
  processGroup?: number | undefined;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `check` until it holds. Fails fast when `child` exits or cannot be spawned, and otherwise
 * after `timeoutMs`; either way the caller kills the child (see `startedOrKilled`).
 */
function waitFor(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
  child?: ChildProcess & { spawnError?: Error },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child?.spawnError) return reject(new Error(`${what} could not be started: ${child.spawnError.message}`));
      if (child && (child.exitCode !== null || child.signalCode !== null))
        return reject(new Error(`${what} exited during start (${child.exitCode ?? child.signalCode})`));
      const retry = (): void =>
        Date.now() > deadline ? reject(new Error(`${what} did not start within ${timeoutMs} ms`)) : void setTimeout(attempt, 50);
      check().then((ok) => (ok ? resolve() : retry()), retry);
    };
    attempt();
  });
}

/** Stops a child started by `spawnTracked` and its process group: `signal`, then SIGKILL after 10 s. */
function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  return stopTracked(child, signal);
}

/** Waits for the server; if it never comes up, stops it (group and temp folder) before rethrowing. */
async function startedOrKilled(child: ChildProcess, started: Promise<void>): Promise<void> {
  try {
    await started;
  } catch (err) {
    await stopTracked(child, "SIGKILL");
    throw err;
  }
}

export interface RedisServerOptions {
  /** Extra `redis-server` arguments, e.g. ["--maxmemory-policy", "allkeys-lru"]. */
  args?: string[];
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RunningServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sluice-redis-"));
  const child = spawnTracked(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--maxmemory-policy",
      "noeviction",
      "--databases",
      "64",
      ...(options.args ?? []),
    ],
    {
      stdio: "ignore",
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    },
  );
  const url = `redis://127.0.0.1:${port}`;
  const { Redis } = await import("ioredis");
  const probe = async (): Promise<boolean> => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => undefined); // refused until the server is up: expected while probing
    try {
      await client.connect();
      return (await client.ping()) === "PONG";
    } finally {
      client.disconnect();
    }
  };
  await startedOrKilled(child, waitFor(probe, "redis-server", 30_000, child));
  return {
    url,
    port,
    processGroup: child.pid,
    async stop() {
      await stopChild(child);
    },
  };
}

function postgresBinDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql: install the Debian package 'postgresql'");
  return join(root, newest, "bin");
}

/** initdb and postgres refuse to run as root; run them as the Debian package's `postgres` user. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ["runuser", ["-u", "postgres", "--", command, ...args]];
}

function ownForServerUser(dir: string): void {
  if (process.getuid?.() !== 0) return;
  const id = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
}

export async function startPostgres(): Promise<RunningServer> {
  const bin = postgresBinDir();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sluice-pg-"));
  chmodSync(dir, 0o700);
  ownForServerUser(dir);
  const data = join(dir, "data");
  const [initCmd, initArgs] = asServerUser(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "--no-sync",
    "-E",
    "UTF8",
    "--locale=C",
  ]);
  const init = spawnSync(initCmd, initArgs, { encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const [cmd, args] = asServerUser(join(bin, "postgres"), [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=300",
  ]);
  const child = spawnTracked(cmd, args, { stdio: "ignore", cleanup: () => rmSync(dir, { recursive: true, force: true }) });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const probe = async (): Promise<boolean> => {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  await startedOrKilled(child, waitFor(probe, "postgres", 30_000, child));
  return {
    url,
    port,
    processGroup: child.pid,
    async stop() {
      // SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
      await stopChild(child, "SIGINT");
    },
  };
}

/** A fresh database on a running server, so test files do not see each other's rows. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

let counter = 0;
/** A database name unique to this test process. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}_${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
}

/** A server that fault tests stop and start again on the same port and data (tests/faults). */
export interface RestartableServer extends RunningServer {
  /** Ends the server with `signal` (SIGTERM/SIGINT: its graceful shutdown; SIGKILL: a crash), keeping port and data. */
  halt(signal: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data; resolves once it answers. */
  resume(): Promise<void>;
  /** The server process's pid while it runs, for a caller's own last-resort cleanup. */
  pid(): number | undefined;
}

async function redisAnswers(url: string): Promise<boolean> {
  const { Redis } = await import("ioredis");
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined); // refused until the server is up: expected while probing
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } finally {
    client.disconnect();
  }
}

/**
 * Redis as a queue Redis should run in production: an append-only file (fsync every second), so
 * a restart, graceful or kill -9 of the process, keeps every acknowledged write.
 */
export async function startRestartableRedis(options: RedisServerOptions = {}): Promise<RestartableServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sluice-redis-"));
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--maxmemory-policy",
    "noeviction",
    ...(options.args ?? []),
  ];
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const resume = async (): Promise<void> => {
    child = spawnTracked("redis-server", args, { stdio: "ignore" });
    await waitFor(() => redisAnswers(url), "redis-server");
  };
  await resume();
  return {
    url,
    port,
    pid: () => child?.pid,
    halt: async (signal) => void (child && (await stopChild(child, signal))),
    resume,
    async stop() {
      if (child) await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The postmaster's pid (first line of postmaster.pid); `runuser` in between would not pass a SIGKILL on. */
function postmasterPid(data: string): number | undefined {
  const file = join(data, "postmaster.pid");
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** PostgreSQL as `startPostgres` runs it, but `halt`/`resume` restart it on the same port and data directory. */
export async function startRestartablePostgres(): Promise<RestartableServer> {
  const bin = postgresBinDir();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sluice-pg-"));
  chmodSync(dir, 0o700);
  ownForServerUser(dir);
  const data = join(dir, "data");
  const [initCmd, initArgs] = asServerUser(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "--no-sync",
    "-E",
    "UTF8",
    "--locale=C",
  ]);
  const init = spawnSync(initCmd, initArgs, { encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const [cmd, args] = asServerUser(join(bin, "postgres"), [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=300",
  ]);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;
  const resume = async (): Promise<void> => {
    child = spawnTracked(cmd, args, { stdio: "ignore" });
    await waitFor(async () => {
      const client = new pg.Client({ connectionString: url });
      try {
        await client.connect();
        await client.query("SELECT 1");
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    }, "postgres");
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const pid = postmasterPid(data);
    const wrapper = child;
    if (!pid || !wrapper || wrapper.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => wrapper.once("exit", () => resolve()));
    process.kill(pid, signal);
    await exited;
  };
  await resume();
  return {
    url,
    port,
    pid: () => postmasterPid(data),
    halt,
    resume,
    async stop() {
      await halt("SIGINT");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
