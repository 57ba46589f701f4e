/**
 * The Provider port: one remote (or local) AI service that completes text and embeds inputs.
 *
 * Adapters (src/adapters/provider/<name>) translate every SDK or HTTP failure into a SluiceError
 * in one place, with retryability as data, so the runtime (src/pipeline/runtime) decides about
 * retries, breakers and fallbacks without knowing any SDK:
 *
 * | provider answer                          | error                                   | retryable |
 * | ---------------------------------------- | --------------------------------------- | --------- |
 * | 429                                      | `RateLimitedError` (code `RATE_LIMITED`) with `retryAfterMs` | yes |
 * | 5xx, 408, 409, 529, connection refused/reset | `PROVIDER_ERROR`                    | yes       |
 * | request timed out                        | `PROVIDER_TIMEOUT`                      | yes       |
 * | 400, 404, 413, 422                       | `PROVIDER_BAD_REQUEST`                  | no        |
 * | 401, 402, 403                            | `PROVIDER_AUTH`                         | no        |
 * | operation the provider lacks             | `PROVIDER_UNSUPPORTED`                  | no        |
 *
 * Adapters never retry on their own (the SDKs run with `maxRetries: 0`): retries are the runtime's.
 */

import { countTokens } from "../core/tokens.ts";

type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/**
 * What the provider said about its own limits on the last answer (OpenAI `x-ratelimit-*`,
 * Anthropic `anthropic-ratelimit-*` headers). Absent when the provider sends none.
 */
export interface ProviderRateLimitInfo {
  readonly remainingRequests?: number;
  readonly remainingTokens?: number;
  readonly resetRequestsMs?: number;
  readonly resetTokensMs?: number;
}

export interface CompletionRequest {
  readonly model: string;
  /** The conversation. Give `messages` or `prompt` (a single user message); `messages` wins. */
  readonly messages?: readonly ChatMessage[];
  readonly prompt?: string;
  /** Upper bound of generated tokens (`max_tokens` on the wire). */
  readonly maxOutputTokens: number;
  readonly temperature?: number;
  /** Aborts the call; the adapter passes it to the SDK. */
  readonly signal?: AbortSignal | undefined;
  /**
   * When given, the adapter streams and calls this with each piece of text as it arrives; the
   * result is the same as without streaming. A retried call streams again from the start.
   */
  readonly onText?: (delta: string) => void;
}

export interface CompletionResult {
  readonly text: string;
  readonly usage: TokenUsage;
  /** The model that answered, as the provider names it (may differ from the one asked for). */
  readonly model: string;
  readonly provider: string;
  /** The provider's stop reason when it gives one (`stop`, `length`, `end_turn`, ...). */
  readonly finishReason?: string | undefined;
  readonly rateLimit?: ProviderRateLimitInfo | undefined;
}

export interface EmbeddingRequest {
  readonly model: string;
  readonly inputs: readonly string[];
  /** Output dimension, for models that can shorten their vectors. */
  readonly dimensions?: number;
  readonly signal?: AbortSignal | undefined;
}

export interface EmbeddingResult {
  /** One vector per input, in input order. */
  readonly vectors: number[][];
  /** `outputTokens` is always 0 for embeddings. */
  readonly usage: TokenUsage;
  readonly model: string;
  readonly provider: string;
  readonly rateLimit?: ProviderRateLimitInfo | undefined;
}

export interface ProviderHealth {
  readonly ok: boolean;
  readonly latencyMs: number;
  /** Why it is not ok (an error code and message), or what was checked. */
  readonly detail?: string;
}

interface ProviderCapabilities {
  readonly complete: boolean;
  readonly embed: boolean;
  readonly stream: boolean;
}

export interface Provider {
  /** Stable name used in routes, metrics and results: `openai`, `anthropic`, `local`, ... */
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  /**
   * The models a provider answers with whatever a request names (the offline `local` one). Routes to
   * it carry these names, so `served_by`, usage, metrics and health say which model really answered.
   * @default undefined: the requested model answers
   */
  readonly ownModels?: { readonly completion: string; readonly embedding: string };
  /** Generates text. Throws SluiceError-based errors only (see the table above). */
  complete(request: CompletionRequest): Promise<CompletionResult>;
  /** Embeds inputs. Throws `PROVIDER_UNSUPPORTED` when `capabilities.embed` is false. */
  embed(request: EmbeddingRequest): Promise<EmbeddingResult>;
  /** A cheap reachability check (lists models on remote providers); never throws. */
  health(signal?: AbortSignal): Promise<ProviderHealth>;
  /** Releases sockets; the provider is unusable afterwards. */
  close(): Promise<void>;
}

/** The messages a request stands for: `messages`, or `prompt` as one user message. */
export function requestMessages(request: Pick<CompletionRequest, "messages" | "prompt">): readonly ChatMessage[] {
  if (request.messages && request.messages.length > 0) return request.messages;
  return [{ role: "user", content: request.prompt ?? "" }];
}

/**
 * The token count used before a call and by providers that report no usage: OpenAI's tokenizer
 * (src/core/tokens.ts). The runtime corrects its limits from the provider's reported usage after
 * each call, and accounting uses that usage wherever a provider reports it.
 */
export function estimateTokens(text: string): number {
  return countTokens(text);
}

/** Estimated input tokens of a completion request: the sum over its message contents. */
export function estimateInputTokens(request: Pick<CompletionRequest, "messages" | "prompt">): number {
  return requestMessages(request).reduce((sum, m) => sum + estimateTokens(m.content), 0);
}
