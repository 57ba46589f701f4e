import { RateLimitedError, SluiceError } from "../../core/errors.ts";
import type { ProviderRateLimitInfo } from "../../ports/provider.ts";

/**
 * HTTP answers of AI providers become Sluice errors here, for every HTTP adapter alike: the
 * status decides the code and retryability, and the rate-limit headers decide `retryAfterMs`.
 */

/** Anything with `get(name)`: a fetch `Headers`, or a wrapper around a plain object. */
export interface HeaderSource {
  get(name: string): string | null | undefined;
}

/** Used when a 429 says nothing about when to come back. */
const DEFAULT_RETRY_AFTER_MS = 1_000;

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };

/**
 * Parses OpenAI's reset durations (Go's format: "1s", "6m0s", "20ms", "1h2m3.5s") or a bare
 * number of seconds. Returns milliseconds, or undefined when the text is not a duration.
 */
export function parseDurationMs(text: string | null | undefined): number | undefined {
  const value = text?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) return undefined;
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_MS[p[2] ?? "s"] ?? 0), 0));
}

/** `Retry-After` is either delta-seconds or an HTTP date; both become milliseconds from `now`. */
export function parseRetryAfterHeader(text: string | null | undefined, now = Date.now()): number | undefined {
  const value = text?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  return parseInstantMs(value, now);
}

/** An absolute time (HTTP date or RFC 3339, as Anthropic sends) as milliseconds from `now`. */
function parseInstantMs(value: string, now: number): number | undefined {
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function numberHeader(headers: HeaderSource, name: string): number | undefined {
  const raw = headers.get(name);
  if (raw === null || raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

function resetHeader(headers: HeaderSource, name: string, now: number): number | undefined {
  const raw = headers.get(name);
  return parseDurationMs(raw) ?? (raw ? parseInstantMs(raw, now) : undefined);
}

/** The provider's view of its own limits, from OpenAI's or Anthropic's headers. */
export function readRateLimitInfo(headers: HeaderSource | undefined, now = Date.now()): ProviderRateLimitInfo | undefined {
  if (!headers) return undefined;
  const info: { -readonly [K in keyof ProviderRateLimitInfo]: ProviderRateLimitInfo[K] } = {};
  const remainingRequests =
    numberHeader(headers, "x-ratelimit-remaining-requests") ?? numberHeader(headers, "anthropic-ratelimit-requests-remaining");
  const remainingTokens =
    numberHeader(headers, "x-ratelimit-remaining-tokens") ?? numberHeader(headers, "anthropic-ratelimit-tokens-remaining");
  const resetRequestsMs =
    resetHeader(headers, "x-ratelimit-reset-requests", now) ?? resetHeader(headers, "anthropic-ratelimit-requests-reset", now);
  const resetTokensMs =
    resetHeader(headers, "x-ratelimit-reset-tokens", now) ?? resetHeader(headers, "anthropic-ratelimit-tokens-reset", now);
  if (remainingRequests !== undefined) info.remainingRequests = remainingRequests;
  if (remainingTokens !== undefined) info.remainingTokens = remainingTokens;
  if (resetRequestsMs !== undefined) info.resetRequestsMs = resetRequestsMs;
  if (resetTokensMs !== undefined) info.resetTokensMs = resetTokensMs;
  return Object.keys(info).length > 0 ? info : undefined;
}

/**
 * How long a 429 asks us to wait. `retry-after-ms` and `Retry-After` are explicit; otherwise the
 * reset of whichever budget is exhausted (requests or tokens), else the longer of the two.
 */
export function retryAfterMsFromHeaders(headers: HeaderSource | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const explicitMs = numberHeader(headers, "retry-after-ms");
  if (explicitMs !== undefined) return Math.max(0, Math.round(explicitMs));
  const retryAfter = parseRetryAfterHeader(headers.get("retry-after"), now);
  if (retryAfter !== undefined) return retryAfter;
  const info = readRateLimitInfo(headers, now);
  if (!info) return undefined;
  const exhausted = [
    info.remainingRequests === 0 ? info.resetRequestsMs : undefined,
    info.remainingTokens === 0 ? info.resetTokensMs : undefined,
  ].filter((v): v is number => v !== undefined);
  const candidates =
    exhausted.length > 0 ? exhausted : [info.resetRequestsMs, info.resetTokensMs].filter((v): v is number => v !== undefined);
  return candidates.length > 0 ? Math.max(...candidates) : undefined;
}

export interface HttpFailure {
  provider: string;
  model: string | undefined;
  status: number;
  headers: HeaderSource | undefined;
  /** The provider's own error message, if any. */
  message: string | undefined;
  requestId?: string | null | undefined;
  cause: unknown;
}

const RETRYABLE_STATUSES = new Set([408, 409, 425, 500, 502, 503, 504, 529]);

/** One HTTP error answer as a typed Sluice error. */
export function translateHttpFailure(failure: HttpFailure, now = Date.now()): SluiceError {
  const { provider, model, status, headers, cause } = failure;
  const details = { provider, model, status, providerMessage: failure.message, requestId: failure.requestId ?? undefined };
  const said = `${provider} answered ${status}${failure.message ? `: ${failure.message}` : ""}`;
  if (status === 429) {
    const retryAfterMs = retryAfterMsFromHeaders(headers, now) ?? DEFAULT_RETRY_AFTER_MS;
    return new RateLimitedError(retryAfterMs, said, { cause, details: { ...details, retryAfterMs } });
  }
  if (status === 401 || status === 402 || status === 403) return new SluiceError("PROVIDER_AUTH", said, { cause, details });
  if (status >= 500 || RETRYABLE_STATUSES.has(status)) return new SluiceError("PROVIDER_ERROR", said, { cause, details });
  return new SluiceError("PROVIDER_BAD_REQUEST", said, { cause, details });
}

/** The provider could not be reached, or did not answer before the SDK's own timeout. */
export function translateTransportFailure(
  kind: "timeout" | "connection",
  provider: string,
  model: string | undefined,
  cause: unknown,
): SluiceError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  if (kind === "timeout")
    return new SluiceError("PROVIDER_TIMEOUT", `${provider} did not answer in time: ${reason}`, { cause, details: { provider, model } });
  return new SluiceError("PROVIDER_ERROR", `${provider} is unreachable: ${reason}`, { cause, details: { provider, model } });
}

/**
 * The caller's signal fired. Its reason goes back unchanged when it is an error (the runtime
 * aborts with its own timeout error); otherwise the call counts as timed out.
 */
export function translateAbort(signal: AbortSignal | undefined, provider: string, model: string | undefined, cause: unknown): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name !== "AbortError") return reason;
  return new SluiceError("PROVIDER_TIMEOUT", `${provider} call was aborted before it answered`, { cause, details: { provider, model } });
}
