import { Option, type Command } from "commander";
import { LEVELS, NO_LOG_FILE, logFiles, parseSince, readLogLines, type LogFilter } from "../log-file.ts";

interface LogsFlags {
  file?: string;
  since?: string;
  level?: string;
  grep?: string;
  lines: string;
  json?: boolean;
}

class UsageError extends Error {}

function filterFrom(flags: LogsFlags): LogFilter {
  const since = flags.since === undefined ? undefined : parseSince(flags.since);
  if (flags.since !== undefined && !since)
    throw new UsageError(`--since ${flags.since}: expected a duration (10m, 2h, 1d) or a time (2026-12-01T14:00:00Z)`);
  const limit = Number(flags.lines);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`-n ${flags.lines}: expected a whole number of lines, at least 1`);
  return { since, minLevel: flags.level === undefined ? undefined : LEVELS[flags.level], grep: flags.grep, limit };
}

async function printLogs(path: string, flags: LogsFlags): Promise<void> {
  const lines = readLogLines(path, filterFrom(flags));
  if (flags.json) {
    for (const line of lines) console.log(line.raw);
    return;
  }
  const { prettyFactory, isColorSupported } = await import("pino-pretty");
  const pretty = prettyFactory({
    colorize: process.stdout.isTTY && isColorSupported,
    translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l",
    ignore: "pid,hostname,service",
  });
  for (const line of lines) process.stdout.write(pretty(line.entry));
}

/** `sluice logs`: seed 002's `grep` over the service's logs, on the rotated LOG_FILE. */
export function registerLogCommands(program: Command): void {
  program
    .command("logs")
    .description(
      "read the rotated LOG_FILE (and its rotated predecessors): filter by time, level and text; exits 1 when there is no log file",
    )
    .addOption(new Option("--file <path>", "the log file (flag > LOG_FILE)").env("LOG_FILE"))
    .option("--since <when>", "only lines since a duration ago (10m, 2h) or a time (ISO 8601)")
    .addOption(new Option("--level <level>", "only lines at this level or above").choices(Object.keys(LEVELS)))
    .option("--grep <text>", "only lines containing this text (case-insensitive)")
    .option("-n, --lines <n>", "the last N matching lines", "100")
    .option("--json", "print the JSON lines as written, for jq")
    .action(async (flags: LogsFlags) => {
      if (!flags.file) {
        console.error(NO_LOG_FILE);
        process.exitCode = 1;
        return;
      }
      if (logFiles(flags.file).length === 0) {
        console.error(
          `No log file at ${flags.file} yet: a Sluice process started with LOG_FILE=${flags.file} creates it on its first line.`,
        );
        process.exitCode = 1;
        return;
      }
      try {
        await printLogs(flags.file, flags);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        console.error(err.message);
        process.exitCode = 2;
      }
    });
}
