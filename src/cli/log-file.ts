import { existsSync, readFileSync } from "node:fs";
import ms from "ms";

/** pino's numeric levels, by the names LOG_LEVEL and `--level` use. */
export const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export interface LogFilter {
  /** Only lines at or after this time. */
  since?: Date | undefined;
  /** Only lines at this level or above. */
  minLevel?: number | undefined;
  /** Only lines whose JSON contains this text (case-insensitive), the way `grep -i` would. */
  grep?: string | undefined;
  /** The last this many matching lines. */
  limit: number;
}

export interface LogLine {
  raw: string;
  entry: Record<string, unknown>;
}

/**
 * `--since 10m` (a duration back from now) or `--since 2026-12-01T14:00:00Z` (a moment).
 * Undefined for a value that is neither, so the caller can say what it expected.
 */
export function parseSince(value: string, now = Date.now()): Date | undefined {
  const back = /^\d+(\.\d+)?\s*[a-z]+$/i.test(value) ? (ms(value as ms.StringValue) as number | undefined) : undefined;
  if (back !== undefined && Number.isFinite(back)) return new Date(now - back);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : new Date(at);
}

/** The file and its rotated predecessors, oldest first: `<path>.<count>` … `<path>.1`, `<path>`. */
export function logFiles(path: string): string[] {
  const rotated: string[] = [];
  for (let i = 1; existsSync(`${path}.${i}`); i++) rotated.unshift(`${path}.${i}`);
  return existsSync(path) ? [...rotated, path] : rotated;
}

function matches(line: LogLine, filter: LogFilter, needle: string | undefined): boolean {
  if (filter.minLevel !== undefined && Number(line.entry.level) < filter.minLevel) return false;
  if (filter.since && !(Date.parse(String(line.entry.time)) >= filter.since.getTime())) return false;
  return needle === undefined || line.raw.toLowerCase().includes(needle);
}

function parse(raw: string): LogLine | undefined {
  try {
    const entry: unknown = JSON.parse(raw);
    return entry !== null && typeof entry === "object" ? { raw, entry: entry as Record<string, unknown> } : undefined;
  } catch {
    return undefined; // a line cut by a crash mid-write: skip it rather than fail the whole read
  }
}

/** The last `filter.limit` lines across the rotated files that pass the filter, oldest first. */
export function readLogLines(path: string, filter: LogFilter): LogLine[] {
  const needle = filter.grep?.toLowerCase();
  const kept: LogLine[] = [];
  for (const file of logFiles(path)) {
    for (const raw of readFileSync(file, "utf8").split("\n")) {
      const line = raw.trim() === "" ? undefined : parse(raw);
      if (line && matches(line, filter, needle)) kept.push(line);
      if (kept.length > filter.limit * 2) kept.splice(0, kept.length - filter.limit);
    }
  }
  return kept.slice(-filter.limit);
}

/** What to tell someone who asked for logs from a process that writes none to a file. */
export const NO_LOG_FILE = [
  "No log file: LOG_FILE is not set, so Sluice writes its logs to stdout only (read them with",
  "journalctl -u sluice, docker logs <container> or kubectl logs <pod>).",
  "To keep them in a file that `sluice logs` and `sluice incident bundle` read, start Sluice with",
  "  LOG_FILE=/var/log/sluice/sluice.log   (rotated at LOG_FILE_MAX_SIZE, default 10M; LOG_FILE_COUNT=5 kept)",
  "and give the same LOG_FILE (or --file PATH) to this command.",
].join("\n");
