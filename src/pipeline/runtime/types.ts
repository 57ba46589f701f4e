import type { Kv } from "../../ports/kv.ts";
import type { LimitCounters } from "../../ports/limits.ts";
import type { Logger } from "../../core/logger.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type {
  CompletionRequest,
  CompletionResult,
  EmbeddingRequest,
  EmbeddingResult,
  Provider,
  ProviderHealth,
} from "../../ports/provider.ts";

/** One provider and one model: the unit of limits, breakers and fallbacks. */
export interface Route {
  readonly provider: string;
  readonly model: string;
}

export interface RouteLimits {
  /** Requests per minute; 0 or absent means unlimited. */
  rpm?: number;
  /** Tokens (input + output) per minute; 0 or absent means unlimited. */
  tpm?: number;
  /**
   * `usage`: after each call the token charge is corrected to the usage the provider reports.
   * `reserved`: the pre-call estimate (input + maxOutputTokens) stands when usage is lower, for
   * providers that count `max_tokens` against the limit up front.
   * @default "usage"
   */
  tokenAccounting?: "usage" | "reserved";
}

export interface ProviderRuntimeLimits {
  /** Limits for every route of a remote provider that has no entry in `routes`. @default {} */
  default?: RouteLimits;
  /** Per-route limits keyed `provider/model`; they replace `default` for that route. @default {} */
  routes?: Record<string, RouteLimits>;
  /** Providers `default` does not apply to (they can still have `routes` entries). @default ["local"] */
  unlimitedProviders?: readonly string[];
  /**
   * Counting window in seconds. A per-minute limit L is enforced as L*window/60 per window, so a
   * provider that refills its budget continuously never sees more than it allows, even across a
   * window edge (keep this at most 30).
   * @default 10
   */
  windowSeconds?: number;
  /** Longest a call waits for capacity before failing with `RATE_LIMITED`. @default 300000 */
  maxWaitMs?: number;
  /** Key prefix for the counters in Redis. @default "sluice:ratelimit" */
  keyPrefix?: string;
}

export interface RetryOptions {
  /** Attempts per route, the first included. @default 4 */
  maxAttempts: number;
  /** Backoff base: attempt n waits a random time in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]. @default 250 */
  baseDelayMs: number;
  /** @default 20000 */
  maxDelayMs: number;
  /**
   * A 429 asking to wait longer than this is not waited for in-process: the route counts as
   * spent (fallbacks run, or the `RATE_LIMITED` error goes to the queue to delay the job).
   * @default 60000
   */
  maxRetryAfterMs: number;
}

export interface BreakerOptions {
  /** Consecutive failures (5xx, timeouts, connection errors) that open a route's breaker. @default 5 */
  threshold: number;
  /** How long an open breaker waits before letting one trial call through (half-open). @default 30000 */
  halfOpenAfterMs: number;
}

/** Time, injectable for tests. */
export interface RuntimeClock {
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

interface RuntimeDefaults {
  /** Provider when a request names none (config `AI_PROVIDER`). */
  provider: string;
  /** Completion model when a request names none (config `AI_MODEL`). */
  model: string;
  /** Config `AI_MAX_OUTPUT_TOKENS`. */
  maxOutputTokens: number;
  /** Embedding model when a request names none (config `AI_EMBEDDING_MODEL`). */
  embeddingModel: string;
  /** Provider for embeddings when a request names none. @default `provider` */
  embeddingProvider?: string;
}

export interface ProviderRuntimeOptions {
  providers: readonly Provider[];
  metrics: Metrics;
  logger: Logger;
  defaults: RuntimeDefaults;
  /** @default {} (no limits) */
  limits?: ProviderRuntimeLimits;
  /** Where the RPM/TPM counters live: the root's one choice, shared by every worker process (memory: this process only). */
  limitCounters: LimitCounters;
  /** Where each provider's reported remaining budget is published (`{provider}:rate_limit:remaining`, runbook 003), for the fleet to read. */
  publishTo?: Kv;
  /** @default see RetryOptions */
  retry?: Partial<RetryOptions>;
  /** @default see BreakerOptions */
  breaker?: Partial<BreakerOptions>;
  /** Per-attempt timeout (config `AI_REQUEST_TIMEOUT_MS`). @default 60000 */
  timeoutMs?: number;
  /**
   * When no route can serve a call because its provider is isolated (switched off), the error says
   * to come back after this long (config `KILL_SWITCH_RECHECK_MS`); a queued job waits that long.
   * @default 15000
   */
  isolatedRetryAfterMs?: number;
  /** Routes tried, in order, when a completion's own route is unavailable. @default [] */
  fallbacks?: readonly Route[];
  /**
   * Routes tried for embeddings. Vectors of different models are not comparable, so this
   * should only name the same model elsewhere (e.g. another deployment).
   * @default []
   */
  embeddingFallbacks?: readonly Route[];
  /** @default real time */
  clock?: RuntimeClock;
  /** Source of jitter in [0, 1). @default Math.random */
  random?: () => number;
}

interface RuntimeCompletionRequest extends Omit<CompletionRequest, "model" | "maxOutputTokens"> {
  /** @default defaults.provider */
  provider?: string;
  /** @default defaults.model */
  model?: string;
  /** @default defaults.maxOutputTokens */
  maxOutputTokens?: number;
}

interface RuntimeEmbeddingRequest extends Omit<EmbeddingRequest, "model"> {
  /** @default defaults.embeddingProvider */
  provider?: string;
  /** @default defaults.embeddingModel */
  model?: string;
}

export interface CallOptions<TRequest, TRule> {
  /** Replaces the configured fallback routes for this call. */
  fallbacks?: readonly Route[];
  /**
   * The task's rule-based answer, used when every route is unavailable (breaker open or
   * attempts spent). Its result is marked `fallback: true`, `servedBy: {provider: "rule"}`.
   */
  ruleFallback?: (request: TRequest, cause: Error) => TRule | Promise<TRule>;
  /** Task type, for logs. */
  task?: string;
}

type CompletionCallOptions = CallOptions<CompletionRequest, string>;
type EmbeddingCallOptions = CallOptions<EmbeddingRequest, number[][]>;

/** How a result was obtained. */
export interface CallMeta {
  /** True when anything but the requested route answered. */
  readonly fallback: boolean;
  /** The route that answered; `{provider: "rule", model: "rule"}` for a rule-based fallback. */
  readonly servedBy: Route;
  /** The route the request asked for. */
  readonly requested: Route;
  /** Provider calls made, over all routes. */
  readonly attempts: number;
}

export type RuntimeCompletionResult = CompletionResult & CallMeta;
type RuntimeEmbeddingResult = EmbeddingResult & CallMeta;

export type BreakerStateName = "closed" | "open" | "half-open" | "isolated";

export interface BreakerSnapshot extends Route {
  readonly state: BreakerStateName;
}

export interface RuntimeHealth {
  /** The default route, or one of its fallbacks, can take calls now. */
  readonly available: boolean;
  readonly primary: Route;
  readonly fallbacks: readonly Route[];
  readonly breakers: readonly BreakerSnapshot[];
  readonly lastError: {
    readonly code: string;
    readonly message: string;
    readonly provider: string;
    readonly model: string;
    readonly at: string;
  } | null;
  /** What providers last reported about their own limits. */
  readonly rateLimits: readonly {
    readonly provider: string;
    readonly model: string;
    readonly remainingRequests?: number | undefined;
    readonly remainingTokens?: number | undefined;
    readonly at: string;
  }[];
  /** Present when `health({probe: true})` asked each provider. */
  readonly probes?: readonly (ProviderHealth & { readonly provider: string })[];
}

export interface ProviderRuntime {
  /** A completion through limits, retries, timeout, breaker and the fallback chain. */
  complete(request: RuntimeCompletionRequest, options?: CompletionCallOptions): Promise<RuntimeCompletionResult>;
  /** Embeddings through the same protections (fallbacks only where configured). */
  embed(request: RuntimeEmbeddingRequest, options?: EmbeddingCallOptions): Promise<RuntimeEmbeddingResult>;
  /** For `/health/llm`; `probe` also asks every configured provider (bounded by 2.5 s). */
  health(options?: { probe?: boolean }): Promise<RuntimeHealth>;
  /** Holds a route's breaker open (all its models when `model` is omitted): calls go to fallbacks. */
  isolate(route: { provider: string; model?: string }): void;
  /** Undoes `isolate`. */
  release(route: { provider: string; model?: string }): void;
  breakers(): BreakerSnapshot[];
  /** Closes the providers. */
  close(): Promise<void>;
}
