import { pino, type DestinationStream } from "pino";
import type { Logger } from "../../core/logger.ts";

/** Paths whose values never reach a log line: keys, tokens, passwords, connection strings. */
export const REDACTED_PATHS = [
  "apiKey",
  "*.apiKey",
  "key",
  "*.key",
  "token",
  "*.token",
  "password",
  "*.password",
  "authorization",
  "*.authorization",
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "headers.authorization",
  'headers["x-api-key"]',
  "databaseUrl",
  "*.databaseUrl",
  "redisUrl",
  "*.redisUrl",
  "metricsToken",
  "*.metricsToken",
  "*.*.metricsToken",
];

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: "sluice" },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
