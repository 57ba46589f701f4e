import type { ChildProcess } from "node:child_process";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { SLUICE_BIN } from "../harness/cli.ts";
import { spawnTracked } from "../harness/processes.ts";
import { createDatabase, freePort, startRestartablePostgres, startRestartableRedis, type RestartableServer } from "../harness/servers.ts";
import { sleep } from "../harness/wait.ts";

/**
 * Real `sluice` processes for the fault suite. Each runs in its own process group (the harness's
 * `spawnTracked`), and every one started is remembered until it exits, so `stopStack()` in an
 * `afterAll` (and the test process's own exit) ends them even when a setup timed out half-way.
 */

export interface SluiceProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Everything it printed so far (the last 1 MB). */
  output(): string;
  /** Resolves with the exit code (null after a signal) once it has exited. */
  readonly exited: Promise<number | null>;
  /** Sends `signal` to the whole process group. */
  signal(signal: NodeJS.Signals): void;
}

const live = new Set<SluiceProcess>();
const servers = new Set<RestartableServer>();

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/** SIGKILLs every process this module started that has not exited, servers included. */
function killEverything(): void {
  for (const p of live) signalGroup(p.pid, "SIGKILL");
  for (const server of servers) {
    const pid = server.pid();
    if (pid) signalGroup(pid, "SIGKILL");
    try {
      if (pid) process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}
process.once("exit", killEverything);

/** Spawns `sluice <args>` in its own process group; does not wait for it to serve. */
export function spawnSluice(args: string[], env: Record<string, string>, options: { port: number; cwd?: string }): SluiceProcess {
  // The harness registers it too (pid file, kill on exit and in the run's teardown); this module keeps its own list as well.
  const child = spawnTracked(process.execPath, [SLUICE_BIN, ...args], {
    env: { ...process.env, LOG_LEVEL: "info", ...env, PORT: String(options.port) },
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`could not spawn sluice ${args.join(" ")}`);
  let output = "";
  const keep = (d: Buffer): void => void (output = (output + d.toString()).slice(-1_000_000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const pid = child.pid;
  const proc: SluiceProcess = {
    child,
    pid,
    url: `http://127.0.0.1:${options.port}`,
    port: options.port,
    output: () => output,
    exited,
    signal: (signal) => signalGroup(pid, signal),
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

/** Resolves once `GET /health` answers 200; fails (and kills it) if it exits or takes longer than `timeoutMs`. */
export async function waitServing(proc: SluiceProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void proc.exited.then((code) => (exitCode = code));
  for (;;) {
    if (exitCode !== undefined) throw new Error(`sluice exited early (${exitCode}): ${proc.output().slice(-4_000)}`);
    if (
      await fetch(`${proc.url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    if (Date.now() > deadline) {
      proc.signal("SIGKILL");
      throw new Error(`sluice did not serve within ${timeoutMs} ms: ${proc.output().slice(-4_000)}`);
    }
    await sleep(200);
  }
}

/** `sluice start --role <role>` on a free port, once it serves. */
export async function startRole(role: "api" | "worker" | "all", env: Record<string, string>, cwd?: string): Promise<SluiceProcess> {
  const proc = spawnSluice(["start", "--role", role], env, { port: await freePort(), ...(cwd ? { cwd } : {}) });
  await waitServing(proc);
  return proc;
}

/** Sends `signal` and waits for the exit, SIGKILLing after `graceMs`. */
export async function stopProcess(proc: SluiceProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 30_000): Promise<number | null> {
  proc.signal(signal);
  const timer = setTimeout(() => proc.signal("SIGKILL"), graceMs);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Bootstraps an admin key for `workspace` straight in the database (`sluice keys create` without
 * --api-key). Not `runCli`: its synchronous spawn would stall this process (and the fake provider
 * it serves) and gives up after 60 s, which a first migration on a busy machine can take.
 */
async function createAdminKey(env: Record<string, string>, workspace: string, cwd?: string): Promise<string> {
  const args = ["keys", "create", "--workspace", workspace, "--scopes", "jobs:read,jobs:write,admin,operator", "--name", "fault suite"];
  const proc = spawnSluice(args, { ...env, LOG_LEVEL: "warn" }, { port: 0, ...(cwd ? { cwd } : {}) });
  const timer = setTimeout(() => proc.signal("SIGKILL"), 180_000);
  const code = await proc.exited;
  clearTimeout(timer);
  const key = /sk_sluice_\S+/.exec(proc.output())?.[0];
  if (code !== 0 || !key) throw new Error(`sluice keys create failed (${code}): ${proc.output().slice(-2_000)}`);
  return key;
}

/**
 * Short settings so each fault plays out in seconds: locks, stall checks, backoffs and the breaker's
 * half-open time are all small. The maximum wait for a provider (issue 8) is far longer than any
 * fault here, so every job must survive every fault.
 */
export const FAULT_SETTINGS: Readonly<Record<string, string>> = {
  LOG_LEVEL: "info",
  RATE_LIMIT_PER_MINUTE: "1000000",
  RATE_LIMIT_READS_PER_MINUTE: "1000000",
  QUEUE_CONCURRENCY: "8",
  QUEUE_LOCK_DURATION_MS: "4000",
  QUEUE_STALLED_INTERVAL_MS: "1000",
  SHUTDOWN_TIMEOUT_MS: "2000",
  AI_REQUEST_TIMEOUT_MS: "15000",
  AI_MAX_ATTEMPTS: "3",
  AI_RETRY_BASE_DELAY_MS: "50",
  AI_BREAKER_THRESHOLD: "5",
  AI_BREAKER_HALF_OPEN_AFTER_MS: "1000",
  AI_MAX_RETRY_AFTER_MS: "2000",
  AI_MAX_WAIT_FOR_PROVIDER_MS: "120000",
  FLAGS_CACHE_MS: "500",
  KILL_SWITCH_RECHECK_MS: "500",
};

/** The fault-injecting server as Sluice's OpenAI provider, for completions and embeddings. */
export function providerEnv(fake: FakeProviderServer): Record<string, string> {
  return { AI_PROVIDER: "openai", AI_EMBEDDING_PROVIDER: "openai", OPENAI_BASE_URL: fake.openaiBaseUrl, OPENAI_API_KEY: "sk-fault-suite" };
}

/** Production shape: queues on Redis, store on PostgreSQL (without pgvector, as Debian ships it). */
export interface Stack {
  redis: RestartableServer;
  postgres: RestartableServer;
  fake: FakeProviderServer;
  env: Record<string, string>;
  key: string;
}

/** Restartable Redis and PostgreSQL of its own, the fake provider, migrations and an admin key. */
export async function startStack(): Promise<Stack> {
  const [redis, postgres, fake] = await Promise.all([startRestartableRedis(), startRestartablePostgres(), startFakeProviderServer()]);
  servers.add(redis);
  servers.add(postgres);
  const databaseUrl = await createDatabase(postgres.url, "faults");
  const env = { ...FAULT_SETTINGS, ...providerEnv(fake), DATABASE_URL: databaseUrl, REDIS_URL: redis.url, VECTOR_SEARCH_ENABLED: "false" };
  return { redis, postgres, fake, env, key: await createAdminKey(env, "faults") };
}

/** Ends every sluice process, then every server this module started (also those of a stack whose start failed half-way). */
export async function stopStack(stack: Partial<Stack> | undefined): Promise<void> {
  for (const p of live) signalGroup(p.pid, "SIGKILL");
  await Promise.allSettled([...live].map((p) => p.exited));
  await Promise.allSettled([...servers].map((s) => s.stop()));
  servers.clear();
  await stack?.fake?.close();
}
