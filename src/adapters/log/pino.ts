import { resolve } from "node:path";
import { pino, type DestinationStream, type StreamEntry } from "pino";
import { createStream } from "rotating-file-stream";
import { PinoPretty } from "pino-pretty";
import type { Logger } from "../../core/logger.ts";

/** Paths whose values never reach a log line: keys, tokens, passwords, connection strings. */
const REDACTED_PATHS = [
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
  /** Also write JSON lines to this file, rotated (LOG_FILE). @default none */
  file?: LogFileOptions | undefined;
}

interface LogFileOptions {
  path: string;
  /** Rotate when the file reaches this size ("10M", "500K", "1G"). */
  maxSize: string;
  /** Rotated files kept beside it (`<path>.1` newest … `<path>.<count>` oldest). */
  count: number;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: "sluice" },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    outputs(options),
  );
}

function outputs(options: LoggerOptions): DestinationStream | ReturnType<typeof pino.multistream> | undefined {
  const console = options.pretty ? prettyStream(options.destination) : options.destination;
  if (!options.file) return console;
  // Each stream takes every line the logger lets through; LOG_LEVEL alone decides which those are.
  const streams: StreamEntry[] = [
    { level: "trace", stream: console ?? pino.destination(1) },
    { level: "trace", stream: rotatingFile(options.file) },
  ];
  return pino.multistream(streams);
}

/** Classic logrotate naming (`sluice.log`, `sluice.log.1`, …), so `sluice logs` and people find the files. */
function rotatingFile(file: LogFileOptions): DestinationStream {
  const stream = createStream(resolve(file.path), { size: file.maxSize, rotate: file.count });
  // A full disk or a vanished folder must not take the process down: stdout still has the lines.
  stream.on("error", (err) => process.stderr.write(`sluice: cannot write LOG_FILE ${file.path}: ${err.message}\n`));
  return stream;
}

function prettyStream(destination: DestinationStream | undefined): DestinationStream {
  return PinoPretty({
    colorize: destination === undefined && PinoPretty.isColorSupported,
    sync: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,service",
    ...(destination ? { destination } : {}),
  });
}
