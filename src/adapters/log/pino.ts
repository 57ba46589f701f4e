import { pino, type DestinationStream } from "pino";
import { PinoPretty } from "pino-pretty";
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
  // Actions' service secrets where a config object is logged whole (config.actions.gmail.token).
  "*.*.token",
  "*.*.*.token",
  "smtpUrl",
  "*.smtpUrl",
  "*.*.smtpUrl",
  "*.*.*.smtpUrl",
  "secret",
  "*.secret",
  "*.*.secret",
  "*.*.*.secret",
];

export interface LoggerOptions {
  level: string;
  /** Where JSON lines go. @default stdout */
  destination?: DestinationStream;
  /**
   * Human lines (time, level, message, fields) instead of JSON, for a person at a terminal
   * (`sluice dev` on a TTY). Written synchronously so nothing is lost at exit. @default false
   */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: "sluice" },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.pretty ? prettyStream(options.destination) : options.destination,
  );
}

function prettyStream(destination: DestinationStream | undefined): DestinationStream {
  return PinoPretty({ colorize: destination === undefined && PinoPretty.isColorSupported, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service", ...(destination ? { destination } : {}) });
}
