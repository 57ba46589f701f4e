import type { FastifyInstance } from "fastify";
import { loadConfig } from "../core/config.ts";
import { buildServer } from "../server/app.ts";
import { createLogger, createSluice, type Sluice } from "../sluice.ts";

export type Role = "api" | "worker" | "all";

export interface Running {
  sluice: Sluice;
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** Human log lines instead of JSON (a person at a terminal). @default false */
  prettyLogs?: boolean;
}

/** Starts one Sluice process in a role and returns a handle that stops it in order. */
export async function serve(
  role: Role,
  env: Record<string, string | undefined> = process.env,
  options: ServeOptions = {},
): Promise<Running> {
  const config = loadConfig(env);
  const sluice = await createSluice({
    config,
    logger: createLogger({ level: config.log.level, pretty: options.prettyLogs ?? false, file: config.log.file }),
  });
  let app: FastifyInstance;
  let address: string;
  try {
    if (role !== "api") await sluice.startWorkers({ role });
    app = await buildServer(sluice, { role });
    address = await app.listen({ port: sluice.config.server.port, host: sluice.config.server.host });
  } catch (err) {
    await sluice.close();
    throw err;
  }
  sluice.logger.info({ component: "server", role, address }, "sluice listening");
  let stopping: Promise<void> | undefined;
  return {
    sluice,
    app,
    url: address,
    stop() {
      stopping ??= stopInOrder(app, sluice);
      return stopping;
    },
  };
}

/** Stop accepting, let requests already inside handlers finish, then close workers and pools. */
export async function stopInOrder(app: FastifyInstance, sluice: Sluice): Promise<void> {
  const closed = app.close();
  await app.drained(sluice.config.server.shutdownTimeoutMs);
  // Keep-alive sockets that were busy when close() began are idle now; without this the server
  // waits out keepAliveTimeout (72 s) for them.
  app.server.closeIdleConnections();
  await closed;
  await sluice.close();
}

// How long handing the running jobs back may take before exiting anyway (their locks then expire).
const ABANDON_TIMEOUT_MS = 5_000;

/**
 * Past the shutdown timeout: hand every job still running back to the queue (lock released, no
 * attempt spent) so another worker starts it now, instead of after lock expiry and a stalled
 * check, then exit 1.
 */
async function abandonAndExit(running: Running): Promise<never> {
  const { logger, config, queues } = running.sluice;
  const reason = `worker shutting down: still running after SHUTDOWN_TIMEOUT_MS (${config.server.shutdownTimeoutMs} ms)`;
  const bound = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), ABANDON_TIMEOUT_MS).unref());
  const returned = await Promise.race([queues.abandonActive(reason), bound]).catch((err: unknown) => {
    logger.error({ component: "server", err }, "could not return running jobs to the queue");
    return "failed" as const;
  });
  logger.error({ component: "server", returnedToQueue: returned }, "shutdown timed out; running jobs returned to the queue");
  process.exit(1);
}

/** SIGTERM/SIGINT: stop in order and exit 0; past the shutdown timeout, hand running jobs back and exit 1. */
export function exitOnSignals(running: Running): void {
  const onSignal = (signal: NodeJS.Signals) => {
    running.sluice.logger.info({ component: "server", signal }, "shutting down");
    const timer = setTimeout(() => void abandonAndExit(running), running.sluice.config.server.shutdownTimeoutMs);
    timer.unref();
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        running.sluice.logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
}
