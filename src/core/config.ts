import { z } from "zod";
import { SluiceError } from "./errors.ts";

/** How long a `client_request_id` keeps returning its job (24 h): the contract of `POST /ai/jobs`. */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400;

/**
 * The one configuration schema, parsed once from the environment at start. Every variable here
 * is documented in docs/configuration.md (a test keeps the two in step).
 */
const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"], { error: "expected true or false" })
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");

const int = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ error: "expected a whole number" })
    .int({ error: "expected a whole number" })
    .min(min, { error: `expected at least ${min}` })
    .max(max, { error: `expected at most ${max}` })
    .default(fallback);

const url = (protocols: string[]) =>
  z
    .string()
    .refine((v) => protocols.some((p) => v.startsWith(`${p}://`)), { error: `expected a URL starting with ${protocols.join("://, ")}://` })
    .optional();

const csv = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    );

/**
 * "provider/model=A:B,…" lists (per-route limits, prices): each entry must match `entry`; the two
 * numbers land under the names given (an empty number is 0).
 */
const routePairs = <K extends string>(entry: RegExp, error: string, [first, second]: readonly [K, K]) =>
  z
    .string()
    .default("")
    .refine((v) => v.trim() === "" || v.split(",").every((e) => entry.test(e)), { error })
    .transform(
      (v) =>
        Object.fromEntries(
          v
            .split(",")
            .filter((e) => e.trim() !== "")
            .map((e) => {
              const [route = "", numbers = ""] = e.trim().split(/=(?=[^=]*$)/);
              const [a = "", b = ""] = numbers.split(":");
              return [route.trim(), { [first]: Number(a || 0), [second]: Number(b || 0) }];
            }),
        ) as Record<string, Record<K, number>>,
    );

/** A JSON value in one variable, checked against `shape` (the message names the first bad field). */
const json = <T extends z.ZodType>(shape: T, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "expected JSON" });
        return z.NEVER;
      }
    })
    .pipe(shape);

const queueNameText = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, { error: "expected a queue name (letters, digits, '.', '_', '-')" });
const thresholdCount = z.number({ error: "expected a whole number" }).int({ error: "expected a whole number" }).min(0).max(1_000_000_000);
const queueThreshold = z.strictObject({ waiting: thresholdCount.optional(), failed: thresholdCount.optional() });

/** "churn=4,sentiment=2" -> jobs at once per queue. */
const perQueueCounts = () =>
  z
    .string()
    .default("")
    .refine(
      (v) =>
        v.trim() === "" ||
        v.split(",").every((e) => /^\s*[A-Za-z0-9][A-Za-z0-9._-]{0,99}=\d{1,4}\s*$/.test(e) && Number(e.split("=")[1]) >= 1),
      {
        error: "expected queue=N entries separated by commas (N from 1 to 9999)",
      },
    )
    .transform(
      (v) =>
        Object.fromEntries(
          v
            .split(",")
            .filter((e) => e.trim() !== "")
            .map((e) => [e.split("=")[0]?.trim() ?? "", Number(e.split("=")[1])]),
        ) as Record<string, number>,
    );

/** "openai/gpt-4o=500:200000,anthropic/claude-3-5-haiku-latest=50:" -> limits per provider/model route. */
const routeLimits = () =>
  routePairs(
    /^\s*[^/=\s]+\/[^=]+=\d*:\d*\s*$/,
    "expected provider/model=RPM:TPM entries separated by commas (either number may be empty)",
    ["rpm", "tpm"],
  );

/** "openai/gpt-4o-mini=0.15:0.60,local/*=0:0" -> USD per 1M input:output tokens per provider/model (or provider/*). */
const prices = () =>
  routePairs(
    /^\s*[^/=\s]+\/[^=]+=\d+(\.\d+)?:\d+(\.\d+)?\s*$/,
    "expected provider/model=INPUT:OUTPUT entries (USD per million tokens) separated by commas",
    ["input", "output"],
  );

const envSchema = z.object({
  PORT: int(3000, 0, 65535),
  HOST: z.string().min(1).default("127.0.0.1"),
  METRICS_TOKEN: z.string().min(16, { error: "METRICS_TOKEN must be at least 16 characters" }).optional(),
  OPS_ENDPOINTS: z.enum(["loopback", "open"]).default("loopback"),
  DOCS_ENABLED: z.enum(["loopback", "true", "false"]).default("loopback"),
  SLUICE_DATA_DIR: z.string().min(1).default("./.sluice"),
  SLUICE_SQL_PORT: int(0, 0, 65_535),
  SLUICE_SQL_PASSWORD: z.string().min(8, { error: "SLUICE_SQL_PASSWORD must be at least 8 characters" }).optional(),
  AUDIT_RETENTION_DAYS: int(90, 0, 36_500),
  AUDIT_ARCHIVE_INTERVAL_MS: int(86_400_000, 1_000, 604_800_000),
  DATABASE_URL: url(["postgres", "postgresql"]),
  DATABASE_POOL_SIZE: int(10, 1, 500),
  REDIS_URL: url(["redis", "rediss"]),
  CACHE_REDIS_URL: url(["redis", "rediss"]),
  REDIS_ALLOW_EVICTION: bool(false),
  REDIS_EVICTION_CHECK_MS: int(30_000, 1_000, 3_600_000),
  REDIS_COMMAND_TIMEOUT_MS: int(5_000, 100, 600_000),
  QUEUE_BACKEND: z.enum(["auto", "redis", "postgres", "pglite"], { error: "expected auto, redis, postgres or pglite" }).default("auto"),
  QUEUE_CONCURRENCY: int(10, 1, 1000),
  QUEUES: csv(""),
  QUEUE_LOCK_DURATION_MS: int(30_000, 1_000, 3_600_000),
  QUEUE_STALLED_INTERVAL_MS: int(30_000, 1_000, 3_600_000),
  QUEUE_GROUPS: json(z.record(queueNameText, z.array(queueNameText).min(1).max(100)), "{}"),
  QUEUE_THRESHOLDS: json(z.record(z.union([z.literal("*"), queueNameText]), queueThreshold), "{}"),
  WORKER_QUEUES: csv(""),
  WORKER_CONCURRENCY: perQueueCounts(),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      error: "expected fatal, error, warn, info, debug, trace or silent",
    })
    .default("info"),
  LOG_FILE: z.string().min(1).optional(),
  LOG_FILE_MAX_SIZE: z
    .string()
    .regex(/^[1-9]\d*[BKMG]$/, { error: "expected a size like 10M (B, K, M or G)" })
    .default("10M"),
  LOG_FILE_COUNT: int(5, 1, 1000),
  BODY_LIMIT_BYTES: int(1_048_576, 1_024, 104_857_600),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 0, 600_000),
  RATE_LIMIT_PER_MINUTE: int(100, 1, 1_000_000),
  RATE_LIMIT_READS_PER_MINUTE: int(3_000, 1, 1_000_000),
  RATE_LIMIT_SEARCH_PER_MINUTE: int(600, 1, 1_000_000),
  RATE_LIMIT_INGEST_PER_MINUTE: int(120, 1, 1_000_000),
  IDEMPOTENCY_TTL_SECONDS: int(DEFAULT_IDEMPOTENCY_TTL_SECONDS, 60, 2_592_000),
  AUTH_FAILURES_PER_MINUTE: int(30, 1, 1_000_000),
  AI_PROVIDER: z.enum(["local", "openai", "anthropic"], { error: "expected local, openai or anthropic" }).default("local"),
  AI_MODEL: z.string().min(1).default("gpt-4o-mini"),
  AI_MAX_OUTPUT_TOKENS: int(800, 1, 1_000_000),
  AI_EMBEDDING_MODEL: z.string().min(1).default("text-embedding-3-small"),
  AI_MODELS: csv(""),
  AI_EMBEDDING_DIMENSIONS: int(384, 8, 4096),
  AI_REQUEST_TIMEOUT_MS: int(60_000, 100, 600_000),
  AI_EMBEDDING_PROVIDER: z.enum(["local", "openai"], { error: "expected local or openai" }).optional(),
  AI_FALLBACK_PROVIDER: z
    .enum(["none", "local", "openai", "anthropic"], { error: "expected none, local, openai or anthropic" })
    .default("none"),
  AI_FALLBACK_MODEL: z.string().min(1).optional(),
  AI_RPM_LIMIT: int(0, 0, 100_000_000),
  AI_TPM_LIMIT: int(0, 0, 10_000_000_000),
  AI_ROUTE_LIMITS: routeLimits(),
  AI_LIMIT_MAX_WAIT_MS: int(300_000, 0, 3_600_000),
  AI_LIMIT_WINDOW_SECONDS: int(10, 1, 30),
  AI_PRICES: prices(),
  WORKSPACE_DAILY_TOKEN_BUDGET: int(0, 0, 1_000_000_000_000),
  DISABLED_TASKS: csv(""),
  DISABLED_PROVIDERS: csv(""),
  FLAGS_CACHE_MS: int(2_000, 0, 60_000),
  KILL_SWITCH_RECHECK_MS: int(15_000, 100, 3_600_000),
  CACHE_ENABLED: bool(true),
  CACHE_TTL_SECONDS: int(86_400, 1, 2_592_000),
  CACHE_MAX_ENTRIES: int(10_000, 1, 10_000_000),
  CACHE_KEY_PREFIX: z.string().min(1).max(100).default("sluice:cache:"),
  CACHE_WARM_DEFAULT: z.string().min(1).optional(),
  AI_MAX_ATTEMPTS: int(4, 1, 20),
  AI_RETRY_BASE_DELAY_MS: int(250, 0, 60_000),
  AI_MAX_RETRY_AFTER_MS: int(60_000, 0, 3_600_000),
  AI_BREAKER_THRESHOLD: int(5, 1, 1_000),
  AI_BREAKER_HALF_OPEN_AFTER_MS: int(30_000, 100, 3_600_000),
  AI_MAX_WAIT_FOR_PROVIDER_MS: int(3_600_000, 1_000, 604_800_000),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: url(["http", "https"]),
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_BASE_URL: url(["http", "https"]),
  ACTIONS_ENABLED: bool(false),
  ALLOW_ACTIONS_DEFAULT: csv(""),
  ACTIONS_REQUIRE_APPROVAL: csv(""),
  ACTIONS_LEASE_MS: int(30_000, 500, 3_600_000),
  ACTIONS_CALL_TIMEOUT_MS: int(30_000, 100, 600_000),
  ACTIONS_SMTP_URL: url(["smtp", "smtps"]),
  ACTIONS_EMAIL_FROM: z.string().min(3).max(320).optional(),
  ACTIONS_GMAIL_BASE_URL: url(["http", "https"]).default("https://gmail.googleapis.com"),
  ACTIONS_GMAIL_TOKEN: z.string().min(1).optional(),
  ACTIONS_GMAIL_USER: z.string().min(1).max(320).default("me"),
  ACTIONS_GRAPH_BASE_URL: url(["http", "https"]).default("https://graph.microsoft.com/v1.0"),
  ACTIONS_GRAPH_TOKEN: z.string().min(1).optional(),
  ACTIONS_GRAPH_USER: z.string().min(1).max(320).optional(),
  ACTIONS_GITHUB_BASE_URL: url(["http", "https"]).default("https://api.github.com"),
  ACTIONS_GITHUB_TOKEN: z.string().min(1).optional(),
  ACTIONS_WEBHOOK_SECRET: z.string().min(16, { error: "ACTIONS_WEBHOOK_SECRET must be at least 16 characters" }).optional(),
  ACTIONS_WEBHOOK_ALLOWED_URLS: csv(""),
  APPROVALS_DEFAULT_SLA_SECONDS: int(86_400, 1, 31_536_000),
  APPROVALS_SWEEP_MS: int(30_000, 100, 3_600_000),
  SCHEDULES_STALE_AFTER_SECONDS: int(172_800, 60, 31_536_000),
  RUN_EVENT_RETENTION_MS: int(86_400_000, 0, 2_592_000_000),
  RUNS_LEASE_MS: int(600_000, 500, 86_400_000),
  OPENAI_EMBEDDING_BACKFILL_ENABLED: bool(true),
  EMBEDDING_BACKFILL_CHUNK_SIZE: int(100, 1, 2_048),
  EMBEDDING_BACKFILL_CONCURRENCY: int(2, 1, 100),
  EMBEDDING_BACKFILL_SWEEP_MS: int(30_000, 100, 3_600_000),
  EMBEDDING_BACKFILL_RETRY_DELAY_MS: int(1_000, 0, 600_000),
  EMBEDDING_CLAIM_TIMEOUT_MS: int(600_000, 1_000, 86_400_000),
  EMBEDDING_BATCH_MODE: z.enum(["off", "openai"], { error: "expected off or openai" }).default("off"),
  EMBEDDING_BATCH_SIZE: int(5_000, 1, 50_000),
  EMBEDDING_INGEST_BODY_LIMIT_BYTES: int(33_554_432, 1_024, 1_073_741_824),
  VECTOR_SEARCH_ENABLED: bool(true),
  WEBHOOK_SIGNING_SECRET: z.string().min(16, { error: "WEBHOOK_SIGNING_SECRET must be at least 16 characters" }).optional(),
  WEBHOOK_ALLOW_PRIVATE: bool(false),
  WEBHOOK_MAX_ATTEMPTS: int(10, 1, 50),
  WEBHOOK_BACKOFF_MS: int(10_000, 10, 3_600_000),
  WEBHOOK_TIMEOUT_MS: int(10_000, 100, 120_000),
  WEBHOOK_SECRET_GRACE_SECONDS: int(86_400, 0, 2_592_000),
});

type Env = z.output<typeof envSchema>;

export type QueueBackendKind = "redis" | "postgres" | "pglite";

/** Counts a queue should stay at or under (seed 003's per-queue alerts, seed 004 §7.3's queue length > 100). */
export interface QueueThresholds {
  readonly waiting: number;
  readonly failed: number;
}

/** The thresholds of a queue that QUEUE_THRESHOLDS does not name, unless its `"*"` entry says otherwise. */
const DEFAULT_QUEUE_THRESHOLDS: QueueThresholds = { waiting: 100, failed: 100 };

function resolveThresholds(env: Env): SluiceConfig["queue"]["thresholds"] {
  const { "*": star, ...named } = env.QUEUE_THRESHOLDS;
  const over = (base: QueueThresholds, given: { waiting?: number | undefined; failed?: number | undefined } = {}): QueueThresholds => ({
    waiting: given.waiting ?? base.waiting,
    failed: given.failed ?? base.failed,
  });
  const fallback = over(DEFAULT_QUEUE_THRESHOLDS, star);
  return { default: fallback, perQueue: Object.fromEntries(Object.entries(named).map(([queue, t]) => [queue, over(fallback, t)])) };
}

export interface SluiceConfig {
  readonly server: { readonly port: number; readonly host: string; readonly bodyLimitBytes: number; readonly shutdownTimeoutMs: number };
  /** Who may read /metrics, /docs and the detailed health views (docs/security.md). */
  readonly ops: {
    readonly metricsToken: string | undefined;
    readonly endpoints: "loopback" | "open";
    readonly docs: "loopback" | "true" | "false";
  };
  readonly storage: { readonly dataDir: string; readonly databaseUrl: string | undefined; readonly poolSize: number };
  /** Embedded mode: the PGlite served on a loopback PostgreSQL socket (port 0 = not served) for `psql` / `sluice sql`. */
  readonly sql: { readonly port: number; readonly password: string | undefined };
  /** Audit rows older than `retentionDays` move to `action_audit_archive` every `archiveIntervalMs` (0 days = never). */
  readonly audit: { readonly retentionDays: number; readonly archiveIntervalMs: number };
  readonly redis: {
    readonly url: string | undefined;
    readonly cacheUrl: string | undefined;
    readonly allowEviction: boolean;
    readonly evictionCheckMs: number;
    readonly commandTimeoutMs: number;
  };
  readonly queue: {
    readonly backend: QueueBackendKind;
    readonly concurrency: number;
    readonly lockDurationMs: number;
    readonly stalledIntervalMs: number;
    /** Queues declared besides the built-in `ai-jobs` and `ai-batch-queue`. */
    readonly extraQueues: readonly string[];
    /** QUEUE_GROUPS: named sets of queues (seed 003's `etapa5`), shown together by `GET /api/admin/queues/{group}`. */
    readonly groups: Readonly<Record<string, readonly string[]>>;
    /** QUEUE_THRESHOLDS: waiting/failed counts a queue should stay at or under; `default` applies to every queue not in `perQueue`. */
    readonly thresholds: { readonly default: QueueThresholds; readonly perQueue: Readonly<Record<string, QueueThresholds>> };
    /** WORKER_QUEUES: the queues this process's workers serve (empty: every queue). */
    readonly workerQueues: readonly string[];
    /** WORKER_CONCURRENCY: jobs at once per queue for this process's workers, over `concurrency`. */
    readonly workerConcurrency: Readonly<Record<string, number>>;
  };
  /** `file`: JSON lines also go to LOG_FILE, rotated at `fileMaxSize` with `fileCount` rotated files kept. */
  readonly log: {
    readonly level: Env["LOG_LEVEL"];
    readonly file: { readonly path: string; readonly maxSize: string; readonly count: number } | undefined;
  };
  readonly intake: {
    readonly rateLimitPerMinute: number;
    readonly idempotencyTtlSeconds: number;
    readonly authFailuresPerMinute: number;
    readonly perMinute: { readonly reads: number; readonly search: number; readonly ingest: number };
  };
  readonly ai: {
    readonly provider: Env["AI_PROVIDER"];
    readonly model: string;
    readonly maxOutputTokens: number;
    readonly embeddingModel: string;
    /** Models a job may name in `input.model`: AI_MODEL, AI_EMBEDDING_MODEL, AI_FALLBACK_MODEL, those in AI_ROUTE_LIMITS and AI_PRICES, and AI_MODELS. */
    readonly allowedModels: readonly string[];
    readonly embeddingDimensions: number;
    readonly requestTimeoutMs: number;
    readonly openai: { readonly apiKey: string | undefined; readonly baseUrl: string | undefined };
    readonly anthropic: { readonly apiKey: string | undefined; readonly baseUrl: string | undefined };
    /** Provider of embeddings: AI_EMBEDDING_PROVIDER, else AI_PROVIDER unless that has none (anthropic: openai when configured, else local). */
    readonly embeddingProvider: "local" | "openai";
    /** Where completions go when the default route is unavailable; provider undefined = no fallback route. */
    readonly fallback: { readonly provider: Exclude<Env["AI_FALLBACK_PROVIDER"], "none"> | undefined; readonly model: string | undefined };
    /** Per-route limits (0 = unlimited); `routes` keyed `provider/model` override rpm/tpm. */
    readonly limits: {
      readonly rpm: number;
      readonly tpm: number;
      readonly routes: Readonly<Record<string, { readonly rpm: number; readonly tpm: number }>>;
      readonly maxWaitMs: number;
      readonly windowSeconds: number;
    };
    /** `AI_PRICES`: USD per million input/output tokens keyed `provider/model` or `provider/*`, over the built-in table. */
    readonly prices: Readonly<Record<string, { readonly input: number; readonly output: number }>>;
    readonly retry: { readonly maxAttempts: number; readonly baseDelayMs: number; readonly maxRetryAfterMs: number };
    readonly breaker: { readonly threshold: number; readonly halfOpenAfterMs: number };
    /** How long, in total, a job may wait (no attempt spent) for a provider or a dependency that refuses it for now. */
    readonly maxWaitForProviderMs: number;
  };
  /** Actions: the env defaults of the policy, the ledger's lease, and the outside services' endpoints and secrets (never logged). */
  readonly actions: {
    readonly enabled: boolean;
    readonly allowDefault: readonly string[];
    readonly requireApproval: readonly string[];
    /** A `started` execution whose heartbeat is older than this was cut off by a crash. */
    readonly leaseMs: number;
    readonly callTimeoutMs: number;
    readonly email: { readonly smtpUrl: string | undefined; readonly from: string | undefined };
    readonly gmail: { readonly baseUrl: string; readonly token: string | undefined; readonly userId: string };
    readonly outlook: { readonly baseUrl: string; readonly token: string | undefined; readonly userId: string | undefined };
    readonly github: { readonly baseUrl: string; readonly token: string | undefined };
    /** webhook.post: the signing secret and the URL prefixes it may post to (empty: any http(s) URL). */
    readonly webhook: { readonly secret: string | undefined; readonly allowedUrls: readonly string[] };
  };
  /** Human approvals: the deadline of a type without a config, and how often the deadline sweep runs. */
  readonly approvals: { readonly defaultSlaSeconds: number; readonly sweepMs: number };
  /** Schedules: a schedule whose last firing is older than this is STALE (seed 003 §1.3: 2 days). */
  readonly schedules: { readonly staleAfterSeconds: number };
  /** Runs: how long sent events are kept for `step.waitForEvent` calls that start after them (never before the wait's own start). */
  readonly runs: { readonly eventRetentionMs: number; readonly leaseMs: number };
  readonly embeddings: {
    readonly backfillEnabled: boolean;
    readonly vectorSearchEnabled: boolean;
    /** Backfill worker: items per provider call, workspace jobs per process, sweep period, retry backoff base, stale-claim age. */
    readonly backfill: {
      readonly chunkSize: number;
      readonly concurrency: number;
      readonly sweepMs: number;
      readonly retryDelayMs: number;
      readonly claimTimeoutMs: number;
    };
    /** Provider batch API (`openai`: OpenAI Batch) instead of synchronous calls, and items per batch. */
    readonly batch: { readonly mode: "off" | "openai"; readonly size: number };
    readonly ingestBodyLimitBytes: number;
  };
  /** Kill switches: env defaults of the runtime flags, and how fresh each process keeps them. */
  readonly flags: {
    readonly disabledTasks: readonly string[];
    readonly disabledProviders: readonly string[];
    readonly cacheMs: number;
    readonly recheckMs: number;
  };
  /** Result cache: Redis on `redis.cacheUrl` when set, else an in-process LRU. */
  readonly cache: {
    readonly enabled: boolean;
    readonly ttlSeconds: number;
    readonly maxEntries: number;
    readonly keyPrefix: string;
    /** CACHE_WARM_DEFAULT: JSON file of the items a bodiless warm-up runs. */ readonly warmDefault: string | undefined;
  };
  /** Daily token budget per workspace when the workspace sets none; 0 = unlimited. */
  readonly budgets: { readonly workspaceDailyTokens: number };
  /** Completion webhooks: the default signing secret, SSRF guard, and the delivery queue's retries. */
  readonly webhooks: {
    readonly signingSecret: string | undefined;
    /** Loopback and private-network targets are allowed (receivers inside the operator's network, tests). */
    readonly allowPrivate: boolean;
    /** Deliveries per callback, first included; then the delivery is `failed` until redelivered. */
    readonly maxAttempts: number;
    /** First retry delay; each later one doubles. */
    readonly backoffMs: number;
    readonly timeoutMs: number;
    /** After a rotation, the old workspace secret also signs for this long. */
    readonly secretGraceSeconds: number;
  };
}

/** `auto` picks Redis when configured, else the Postgres server, else embedded PGlite. */
function resolveQueueBackend(env: Env): QueueBackendKind {
  if (env.QUEUE_BACKEND !== "auto") return env.QUEUE_BACKEND;
  if (env.REDIS_URL) return "redis";
  if (env.DATABASE_URL) return "postgres";
  return "pglite";
}

function crossFieldProblems(env: Env): string[] {
  const problems: string[] = [];
  if (env.SLUICE_SQL_PORT > 0 && !env.SLUICE_SQL_PASSWORD)
    problems.push("SLUICE_SQL_PORT: serving the embedded database needs SLUICE_SQL_PASSWORD (8+ characters)");
  if (env.SLUICE_SQL_PORT > 0 && env.DATABASE_URL)
    problems.push(
      "SLUICE_SQL_PORT: serves the embedded database only; with DATABASE_URL connect to that server directly (sluice sql does)",
    );
  if (env.QUEUE_BACKEND === "redis" && !env.REDIS_URL) problems.push("QUEUE_BACKEND: redis needs REDIS_URL to be set");
  if (env.QUEUE_BACKEND === "postgres" && !env.DATABASE_URL) problems.push("QUEUE_BACKEND: postgres needs DATABASE_URL to be set");
  if (env.AI_PROVIDER === "openai" && !env.OPENAI_API_KEY && !env.OPENAI_BASE_URL)
    problems.push("AI_PROVIDER: openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a keyless compatible server)");
  if (env.AI_PROVIDER === "anthropic" && !env.ANTHROPIC_API_KEY) problems.push("AI_PROVIDER: anthropic needs ANTHROPIC_API_KEY");
  if (env.AI_EMBEDDING_PROVIDER === "openai" && !env.OPENAI_API_KEY && !env.OPENAI_BASE_URL)
    problems.push("AI_EMBEDDING_PROVIDER: openai needs OPENAI_API_KEY or OPENAI_BASE_URL");
  if (env.AI_FALLBACK_PROVIDER === "openai" && !env.OPENAI_API_KEY && !env.OPENAI_BASE_URL)
    problems.push("AI_FALLBACK_PROVIDER: openai needs OPENAI_API_KEY or OPENAI_BASE_URL");
  if (env.AI_FALLBACK_PROVIDER === "anthropic" && !env.ANTHROPIC_API_KEY)
    problems.push("AI_FALLBACK_PROVIDER: anthropic needs ANTHROPIC_API_KEY");
  if (env.EMBEDDING_BATCH_MODE === "openai" && !env.OPENAI_API_KEY && !env.OPENAI_BASE_URL)
    problems.push("EMBEDDING_BATCH_MODE: openai needs OPENAI_API_KEY or OPENAI_BASE_URL");
  return problems;
}

/** Parses the environment into the frozen config, or throws one error naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): SluiceConfig {
  const relevant = Object.fromEntries(Object.keys(envSchema.shape).map((k) => [k, source[k] === "" ? undefined : source[k]]));
  const parsed = envSchema.safeParse(relevant);
  const problems = parsed.success ? crossFieldProblems(parsed.data) : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  if (!parsed.success || problems.length > 0) {
    throw new SluiceError("CONFIG_INVALID", `Invalid configuration:\n  ${problems.join("\n  ")}`, { details: problems });
  }
  return deepFreeze(toConfig(parsed.data));
}

/** The models named anywhere in the AI settings: a job may ask for these and no others. */
function allowedModels(env: Env): string[] {
  const named = [...Object.keys(env.AI_ROUTE_LIMITS), ...Object.keys(env.AI_PRICES)]
    .map((route) => route.slice(route.indexOf("/") + 1))
    .filter((m) => m !== "*");
  return [
    ...new Set([
      env.AI_MODEL,
      env.AI_EMBEDDING_MODEL,
      ...(env.AI_FALLBACK_MODEL ? [env.AI_FALLBACK_MODEL] : []),
      ...named,
      ...env.AI_MODELS,
    ]),
  ];
}

function toConfig(env: Env): SluiceConfig {
  return {
    server: { port: env.PORT, host: env.HOST, bodyLimitBytes: env.BODY_LIMIT_BYTES, shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS },
    ops: { metricsToken: env.METRICS_TOKEN, endpoints: env.OPS_ENDPOINTS, docs: env.DOCS_ENABLED },
    storage: { dataDir: env.SLUICE_DATA_DIR, databaseUrl: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE },
    sql: { port: env.SLUICE_SQL_PORT, password: env.SLUICE_SQL_PASSWORD },
    audit: { retentionDays: env.AUDIT_RETENTION_DAYS, archiveIntervalMs: env.AUDIT_ARCHIVE_INTERVAL_MS },
    redis: {
      url: env.REDIS_URL,
      cacheUrl: env.CACHE_REDIS_URL ?? env.REDIS_URL,
      allowEviction: env.REDIS_ALLOW_EVICTION,
      evictionCheckMs: env.REDIS_EVICTION_CHECK_MS,
      commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    },
    queue: {
      backend: resolveQueueBackend(env),
      concurrency: env.QUEUE_CONCURRENCY,
      lockDurationMs: env.QUEUE_LOCK_DURATION_MS,
      stalledIntervalMs: env.QUEUE_STALLED_INTERVAL_MS,
      extraQueues: env.QUEUES,
      groups: env.QUEUE_GROUPS,
      thresholds: resolveThresholds(env),
      workerQueues: env.WORKER_QUEUES,
      workerConcurrency: env.WORKER_CONCURRENCY,
    },
    log: {
      level: env.LOG_LEVEL,
      file: env.LOG_FILE ? { path: env.LOG_FILE, maxSize: env.LOG_FILE_MAX_SIZE, count: env.LOG_FILE_COUNT } : undefined,
    },
    intake: {
      rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
      idempotencyTtlSeconds: env.IDEMPOTENCY_TTL_SECONDS,
      authFailuresPerMinute: env.AUTH_FAILURES_PER_MINUTE,
      perMinute: {
        reads: env.RATE_LIMIT_READS_PER_MINUTE,
        search: env.RATE_LIMIT_SEARCH_PER_MINUTE,
        ingest: env.RATE_LIMIT_INGEST_PER_MINUTE,
      },
    },
    ai: {
      provider: env.AI_PROVIDER,
      model: env.AI_MODEL,
      maxOutputTokens: env.AI_MAX_OUTPUT_TOKENS,
      embeddingModel: env.AI_EMBEDDING_MODEL,
      allowedModels: allowedModels(env),
      embeddingDimensions: env.AI_EMBEDDING_DIMENSIONS,
      requestTimeoutMs: env.AI_REQUEST_TIMEOUT_MS,
      openai: { apiKey: env.OPENAI_API_KEY, baseUrl: env.OPENAI_BASE_URL },
      anthropic: { apiKey: env.ANTHROPIC_API_KEY, baseUrl: env.ANTHROPIC_BASE_URL },
      embeddingProvider:
        env.AI_EMBEDDING_PROVIDER ??
        (env.AI_PROVIDER !== "anthropic" ? env.AI_PROVIDER : env.OPENAI_API_KEY || env.OPENAI_BASE_URL ? "openai" : "local"),
      fallback: { provider: env.AI_FALLBACK_PROVIDER === "none" ? undefined : env.AI_FALLBACK_PROVIDER, model: env.AI_FALLBACK_MODEL },
      limits: {
        rpm: env.AI_RPM_LIMIT,
        tpm: env.AI_TPM_LIMIT,
        routes: env.AI_ROUTE_LIMITS,
        maxWaitMs: env.AI_LIMIT_MAX_WAIT_MS,
        windowSeconds: env.AI_LIMIT_WINDOW_SECONDS,
      },
      prices: env.AI_PRICES,
      retry: { maxAttempts: env.AI_MAX_ATTEMPTS, baseDelayMs: env.AI_RETRY_BASE_DELAY_MS, maxRetryAfterMs: env.AI_MAX_RETRY_AFTER_MS },
      breaker: { threshold: env.AI_BREAKER_THRESHOLD, halfOpenAfterMs: env.AI_BREAKER_HALF_OPEN_AFTER_MS },
      maxWaitForProviderMs: env.AI_MAX_WAIT_FOR_PROVIDER_MS,
    },
    actions: {
      enabled: env.ACTIONS_ENABLED,
      allowDefault: env.ALLOW_ACTIONS_DEFAULT,
      requireApproval: env.ACTIONS_REQUIRE_APPROVAL,
      leaseMs: env.ACTIONS_LEASE_MS,
      callTimeoutMs: env.ACTIONS_CALL_TIMEOUT_MS,
      email: { smtpUrl: env.ACTIONS_SMTP_URL, from: env.ACTIONS_EMAIL_FROM },
      gmail: { baseUrl: env.ACTIONS_GMAIL_BASE_URL, token: env.ACTIONS_GMAIL_TOKEN, userId: env.ACTIONS_GMAIL_USER },
      outlook: { baseUrl: env.ACTIONS_GRAPH_BASE_URL, token: env.ACTIONS_GRAPH_TOKEN, userId: env.ACTIONS_GRAPH_USER },
      github: { baseUrl: env.ACTIONS_GITHUB_BASE_URL, token: env.ACTIONS_GITHUB_TOKEN },
      webhook: { secret: env.ACTIONS_WEBHOOK_SECRET, allowedUrls: env.ACTIONS_WEBHOOK_ALLOWED_URLS },
    },
    approvals: { defaultSlaSeconds: env.APPROVALS_DEFAULT_SLA_SECONDS, sweepMs: env.APPROVALS_SWEEP_MS },
    schedules: { staleAfterSeconds: env.SCHEDULES_STALE_AFTER_SECONDS },
    runs: { eventRetentionMs: env.RUN_EVENT_RETENTION_MS, leaseMs: env.RUNS_LEASE_MS },
    embeddings: {
      backfillEnabled: env.OPENAI_EMBEDDING_BACKFILL_ENABLED,
      vectorSearchEnabled: env.VECTOR_SEARCH_ENABLED,
      backfill: {
        chunkSize: env.EMBEDDING_BACKFILL_CHUNK_SIZE,
        concurrency: env.EMBEDDING_BACKFILL_CONCURRENCY,
        sweepMs: env.EMBEDDING_BACKFILL_SWEEP_MS,
        retryDelayMs: env.EMBEDDING_BACKFILL_RETRY_DELAY_MS,
        claimTimeoutMs: env.EMBEDDING_CLAIM_TIMEOUT_MS,
      },
      batch: { mode: env.EMBEDDING_BATCH_MODE, size: env.EMBEDDING_BATCH_SIZE },
      ingestBodyLimitBytes: env.EMBEDDING_INGEST_BODY_LIMIT_BYTES,
    },
    flags: {
      disabledTasks: env.DISABLED_TASKS,
      disabledProviders: env.DISABLED_PROVIDERS,
      cacheMs: env.FLAGS_CACHE_MS,
      recheckMs: env.KILL_SWITCH_RECHECK_MS,
    },
    cache: {
      enabled: env.CACHE_ENABLED,
      ttlSeconds: env.CACHE_TTL_SECONDS,
      maxEntries: env.CACHE_MAX_ENTRIES,
      keyPrefix: env.CACHE_KEY_PREFIX,
      warmDefault: env.CACHE_WARM_DEFAULT,
    },
    budgets: { workspaceDailyTokens: env.WORKSPACE_DAILY_TOKEN_BUDGET },
    webhooks: {
      signingSecret: env.WEBHOOK_SIGNING_SECRET,
      allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
      maxAttempts: env.WEBHOOK_MAX_ATTEMPTS,
      backoffMs: env.WEBHOOK_BACKOFF_MS,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      secretGraceSeconds: env.WEBHOOK_SECRET_GRACE_SECONDS,
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Names of every environment variable the schema reads, for docs and drift tests. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);
