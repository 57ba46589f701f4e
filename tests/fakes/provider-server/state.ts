import { echoResponder, type Responder } from "./content.ts";
import { sendError, sleep, type FakeRoute, type RouteContext, type WireFormat } from "./http.ts";
import { LimitEnforcer, type EnforcedLimits } from "./limits.ts";

/** The next `count` requests answer 429 with these headers. */
export interface RateLimitFault {
  count: number;
  /** `Retry-After` in seconds. Omit (with no other field) to send no `Retry-After` at all. */
  retryAfterSeconds?: number;
  /** Send `Retry-After` as an HTTP date `retryAfterSeconds` from now instead of a number. */
  asHttpDate?: boolean;
  /** OpenAI's `retry-after-ms` header. */
  retryAfterMs?: number;
  /** `x-ratelimit-reset-requests` (OpenAI format, e.g. "1s", "6m0s", "20ms"). */
  resetRequests?: string;
  /** `x-ratelimit-reset-tokens`. */
  resetTokens?: string;
  /** Which budget the headers show as spent (remaining 0). @default "requests" */
  exhausted?: "requests" | "tokens";
}

export interface OutageOptions {
  /** `status` answers with it; `reset` destroys the connection without an answer. @default "status" */
  mode?: "status" | "reset";
  /** @default 503 */
  status?: number;
}

interface RequestRecord {
  /** Milliseconds since the epoch when the request arrived. */
  at: number;
  route: string;
  model: string | undefined;
  status: number;
  /** `Authorization: Bearer` or `x-api-key`, to check what the client sent. */
  apiKey: string | undefined;
  stream: boolean;
}

export interface FakeStats {
  requests: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  /** Every 429 sent (scripted and enforced). */
  rateLimited: number;
  /** 429s sent because a client exceeded the enforced RPM/TPM limits. */
  limitRejections: number;
  inputTokens: number;
  outputTokens: number;
  log: RequestRecord[];
}

function emptyStats(): FakeStats {
  return { requests: 0, byRoute: {}, byStatus: {}, rateLimited: 0, limitRejections: 0, inputTokens: 0, outputTokens: 0, log: [] };
}

export class FakeState {
  stats: FakeStats = emptyStats();
  responder: Responder = echoResponder;
  embeddingDimensions = 1536;
  latencyMs = 0;
  streamChunkDelayMs = 0;
  private rateLimits: RateLimitFault[] = [];
  private serverErrors: { status: number }[] = [];
  private hangs: { ms: number | undefined }[] = [];
  private outage: Required<OutageOptions> | undefined;
  private enforcer: LimitEnforcer | undefined;
  readonly hangControllers = new Set<AbortController>();

  rateLimitNext(fault: RateLimitFault): void {
    for (let i = 0; i < fault.count; i++) this.rateLimits.push(fault);
  }
  failNext(count: number, status = 500): void {
    for (let i = 0; i < count; i++) this.serverErrors.push({ status });
  }
  hangNext(count: number, ms?: number): void {
    for (let i = 0; i < count; i++) this.hangs.push({ ms });
  }
  setOutage(on: boolean, options: OutageOptions = {}): void {
    this.outage = on ? { mode: options.mode ?? "status", status: options.status ?? 503 } : undefined;
  }
  setLimits(limits: EnforcedLimits | undefined): void {
    this.enforcer = limits ? new LimitEnforcer(limits) : undefined;
  }
  get tokenAccounting(): "usage" | "reserved" {
    return this.enforcer?.limits.tokenAccounting ?? "usage";
  }
  /** Clears faults, limits, latency, responder and stats; wakes hung requests. */
  reset(): void {
    this.rateLimits = [];
    this.serverErrors = [];
    this.hangs = [];
    this.outage = undefined;
    this.enforcer = undefined;
    this.latencyMs = 0;
    this.streamChunkDelayMs = 0;
    this.responder = echoResponder;
    this.embeddingDimensions = 1536;
    for (const c of this.hangControllers) c.abort();
    this.stats = emptyStats();
  }

  record(ctx: RouteContext, route: FakeRoute, status: number): void {
    const body = (ctx.body ?? {}) as { model?: unknown; stream?: unknown };
    const auth = ctx.req.headers.authorization?.replace(/^Bearer\s+/i, "") ?? (ctx.req.headers["x-api-key"] as string | undefined);
    this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
    if (status === 429) this.stats.rateLimited++;
    this.stats.log.push({
      at: Date.now(),
      route: route.name,
      model: typeof body.model === "string" ? body.model : undefined,
      status,
      apiKey: auth,
      stream: body.stream === true,
    });
  }

  /**
   * Runs the scripted faults in order (latency, outage, 429, 5xx, hang, enforced limits) and
   * answers for them; true when the route's own handler should answer.
   */
  async gate(route: FakeRoute, ctx: RouteContext, cost: () => { model: string; tokens: number }): Promise<boolean> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (this.outage) return this.answerOutage(route, ctx, this.outage);
    const limited = this.rateLimits.shift();
    if (limited) return this.answer429(route, ctx, rateLimitHeaders(limited, route.format));
    const failure = this.serverErrors.shift();
    if (failure)
      return this.answerError(route, ctx, failure.status, "The server had an error while processing your request.", "server_error");
    const hang = this.hangs.shift();
    if (hang) await this.hold(ctx, hang.ms);
    if (ctx.res.destroyed) return false;
    if (this.enforcer) {
      const { model, tokens } = cost();
      const decision = this.enforcer.admit(model, tokens);
      if (!decision.ok) {
        this.stats.limitRejections++;
        const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
        const headers = { ...decision.headers, "retry-after": String(seconds), "retry-after-ms": String(decision.retryAfterMs) };
        return this.answer429(route, ctx, headers, `Rate limit reached for ${model} on ${decision.exhausted ?? "requests"}`);
      }
      ctx.res.setHeaders(new Map(Object.entries(decision.headers)));
    } else {
      ctx.res.setHeaders(new Map(Object.entries(UNLIMITED_HEADERS)));
    }
    return true;
  }

  private hold(ctx: RouteContext, ms: number | undefined): Promise<void> {
    const controller = new AbortController();
    this.hangControllers.add(controller);
    ctx.res.once("close", () => controller.abort());
    return sleep(ms ?? 3_600_000, controller.signal).finally(() => this.hangControllers.delete(controller));
  }

  private answerOutage(route: FakeRoute, ctx: RouteContext, outage: Required<OutageOptions>): false {
    if (outage.mode === "reset") {
      this.record(ctx, route, 0);
      ctx.req.socket.destroy();
      return false;
    }
    return this.answerError(
      route,
      ctx,
      outage.status,
      "The service is temporarily unavailable.",
      route.format === "anthropic" ? "overloaded_error" : "server_error",
    );
  }

  private answer429(route: FakeRoute, ctx: RouteContext, headers: Record<string, string>, message = "Rate limit reached"): false {
    this.record(ctx, route, 429);
    sendError(ctx.res, route.format, 429, message, route.format === "anthropic" ? "rate_limit_error" : "requests", headers);
    return false;
  }

  private answerError(route: FakeRoute, ctx: RouteContext, status: number, message: string, type: string): false {
    this.record(ctx, route, status);
    sendError(ctx.res, route.format, status, message, type);
    return false;
  }
}

/** What a server with budget to spare reports, so clients always see x-ratelimit-* headers. */
const UNLIMITED_HEADERS = {
  "x-ratelimit-limit-requests": "10000",
  "x-ratelimit-remaining-requests": "9999",
  "x-ratelimit-reset-requests": "6ms",
  "x-ratelimit-limit-tokens": "10000000",
  "x-ratelimit-remaining-tokens": "9999000",
  "x-ratelimit-reset-tokens": "6ms",
};

function rateLimitHeaders(fault: RateLimitFault, format: WireFormat): Record<string, string> {
  const h: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined) {
    h["retry-after"] = fault.asHttpDate
      ? new Date(Date.now() + fault.retryAfterSeconds * 1000).toUTCString()
      : String(fault.retryAfterSeconds);
  }
  if (fault.retryAfterMs !== undefined) h["retry-after-ms"] = String(fault.retryAfterMs);
  const exhausted = fault.exhausted ?? "requests";
  if (format === "anthropic") {
    const resetSeconds = fault.retryAfterSeconds ?? 1;
    h[`anthropic-ratelimit-${exhausted}-remaining`] = "0";
    h[`anthropic-ratelimit-${exhausted}-reset`] = new Date(Date.now() + resetSeconds * 1000).toISOString();
    return h;
  }
  h["x-ratelimit-remaining-requests"] = exhausted === "requests" ? "0" : "10";
  h["x-ratelimit-remaining-tokens"] = exhausted === "tokens" ? "0" : "1000";
  if (fault.resetRequests) h["x-ratelimit-reset-requests"] = fault.resetRequests;
  if (fault.resetTokens) h["x-ratelimit-reset-tokens"] = fault.resetTokens;
  return h;
}
