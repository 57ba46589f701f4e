import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { create as createTar } from "tar";
import type { Client } from "./client.ts";
import { readLogLines } from "./log-file.ts";

export interface BundleOptions {
  client: Client;
  /** The archive to write (.tar.gz). */
  output: string;
  /** The API key the client sends: masked wherever an answer happens to echo it. */
  apiKey: string | undefined;
  /** This process's environment, for the redacted configuration and LOG_FILE. */
  env: Record<string, string | undefined>;
  logLines: number;
  /** The findings of `sluice doctor`, computed by the caller (the doctor lives in a command module). */
  doctor: () => Promise<unknown>;
}

/** One file of the bundle and whether it could be collected. */
interface Collected {
  file: string;
  ok: boolean;
  note?: string;
}

/** Server answers copied into the bundle: what seed 000's "collect logs for an incident" wants beside the logs. */
const SNAPSHOTS: Array<[file: string, path: string]> = [
  ["status.json", "/ready"],
  ["health-db.json", "/health/db"],
  ["health-redis.json", "/health/redis"],
  ["health-llm.json", "/health/llm"],
  ["queues.json", "/api/queues"],
  ["backlog.json", "/api/embeddings/backlog"],
  ["flags.json", "/api/flags"],
  ["cache.json", "/api/cache/stats"],
  ["schedules.json", "/api/schedules"],
];

const SECRET_KEY = /(api_?key|apikey|token|secret|password|authorization|credential)/i;

/** Deep copy with secret-named fields masked and passwords cut out of connection strings. */
function redact(value: unknown, key = ""): unknown {
  if (typeof value === "string") return SECRET_KEY.test(key) ? "[redacted]" : stripUrlPassword(value);
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  return value;
}

function stripUrlPassword(value: string): string {
  return value.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]+@/gi, "$1:[redacted]@");
}

/** The configuration this command sees (the same environment as the server's, when run beside it). */
function configSnapshot(env: Record<string, string | undefined>): Record<string, unknown> {
  const settings = Object.fromEntries(
    Object.entries(env).filter(([k]) =>
      /^(SLUICE_|DATABASE_|REDIS_|CACHE_|QUEUE|LOG_|AI_|OPENAI_|ANTHROPIC_|ACTIONS_|ALLOW_|RATE_LIMIT|METRICS_|EMBEDDING|VECTOR_|AUDIT_|FLAGS_|PORT$|HOST$)/.test(
        k,
      ),
    ),
  );
  return redact({ note: "the environment of the process that made this bundle, secrets redacted", settings }) as Record<string, unknown>;
}

export async function writeIncidentBundle(options: BundleOptions): Promise<Collected[]> {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  const work = mkdtempSync(join(tmpdir(), "sluice-incident-"));
  const folder = `sluice-incident-${stamp}`;
  const root = join(work, folder);
  mkdirSync(root);
  const mask = (text: string): string => (options.apiKey ? text.split(options.apiKey).join("[redacted]") : text);
  const write = (file: string, text: string): void => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), mask(text));
  };
  const json = (file: string, value: unknown): void => write(file, `${JSON.stringify(redact(value), null, 2)}\n`);
  try {
    const collected = [...(await collectServer(options.client, json)), ...collectLocal(options, write, json)];
    collected.push(await collectDoctor(options, json));
    json("manifest.json", { created_at: new Date().toISOString(), server: options.client.base, files: collected });
    await createTar({ gzip: true, file: options.output, cwd: work, portable: true }, [folder]);
    return collected;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function snapshot(client: Client, json: (file: string, value: unknown) => void, file: string, path: string): Promise<Collected> {
  try {
    const { status, body } = await client.request<unknown>("GET", path);
    json(file, { http_status: status, body });
    return { file, ok: status < 400 };
  } catch (err) {
    json(file, { error: (err as Error).message });
    return { file, ok: false, note: (err as Error).message };
  }
}

/** Each snapshot, then each queue's recent attempt errors and failed jobs. */
async function collectServer(client: Client, json: (file: string, value: unknown) => void): Promise<Collected[]> {
  const collected = await Promise.all(SNAPSHOTS.map(([file, path]) => snapshot(client, json, file, path)));
  const queues = await client.request<Array<{ name: string }>>("GET", "/api/queues").catch(() => undefined);
  for (const { name } of Array.isArray(queues?.body) ? queues.body : []) {
    const q = encodeURIComponent(name);
    collected.push(await snapshot(client, json, `queues/${name}-errors.json`, `/api/queues/${q}/errors?limit=20`));
    collected.push(await snapshot(client, json, `queues/${name}-failed.json`, `/api/queues/${q}/jobs?state=failed&limit=20`));
  }
  return collected;
}

function collectLocal(
  options: BundleOptions,
  write: (file: string, text: string) => void,
  json: (file: string, value: unknown) => void,
): Collected[] {
  json("config.json", configSnapshot(options.env));
  const logFile = options.env.LOG_FILE;
  if (!logFile) {
    write("logs.jsonl", "");
    return [
      { file: "config.json", ok: true },
      { file: "logs.jsonl", ok: false, note: "LOG_FILE is not set: no log lines collected" },
    ];
  }
  try {
    const lines = readLogLines(logFile, { limit: options.logLines });
    write("logs.jsonl", lines.map((l) => l.raw).join("\n") + (lines.length > 0 ? "\n" : ""));
    return [
      { file: "config.json", ok: true },
      { file: "logs.jsonl", ok: true, note: `last ${lines.length} lines of ${logFile}` },
    ];
  } catch (err) {
    return [
      { file: "config.json", ok: true },
      { file: "logs.jsonl", ok: false, note: (err as Error).message },
    ];
  }
}

async function collectDoctor(options: BundleOptions, json: (file: string, value: unknown) => void): Promise<Collected> {
  try {
    json("doctor.json", await options.doctor());
    return { file: "doctor.json", ok: true };
  } catch (err) {
    return { file: "doctor.json", ok: false, note: (err as Error).message };
  }
}
