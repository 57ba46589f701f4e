import OpenAI from "openai";
import type { ChatCompletionCreateParamsBase } from "openai/resources/chat/completions/completions";
import { SluiceError } from "../../../core/errors.ts";
import {
  estimateInputTokens,
  estimateTokens,
  requestMessages,
  type CompletionRequest,
  type CompletionResult,
  type EmbeddingRequest,
  type EmbeddingResult,
  type Provider,
  type ProviderHealth,
  type TokenUsage,
} from "../../../ports/provider.ts";
import { readRateLimitInfo } from "../http-errors.ts";
import { translateOpenAIError } from "./translate-error.ts";

export interface OpenAIProviderOptions {
  /**
   * Name in routes, metrics and results; use another name to configure a second
   * OpenAI-compatible server beside OpenAI itself.
   * @default "openai"
   */
  name?: string;
  /** Keyless compatible servers (vLLM, Ollama) accept any key. @default "sk-no-key" */
  apiKey?: string | undefined;
  /**
   * Server root including `/v1`, e.g. `http://127.0.0.1:8000/v1` (vLLM),
   * `http://127.0.0.1:11434/v1` (Ollama), `https://RESOURCE.openai.azure.com/openai/v1/` (Azure).
   * @default "https://api.openai.com/v1"
   */
  baseURL?: string | undefined;
  /** The client's own per-request timeout. @default 60000 */
  timeoutMs?: number | undefined;
  /**
   * Which request field carries `maxOutputTokens`. `auto` sends `max_completion_tokens` to
   * reasoning models (o1, o3, o4, gpt-5, which reject `max_tokens`) and `max_tokens` to the rest,
   * which every compatible server understands.
   * @default "auto"
   */
  maxTokensParameter?: "auto" | "max_tokens" | "max_completion_tokens";
  /** Ask streams to end with a usage chunk (`stream_options.include_usage`). @default true */
  streamUsage?: boolean;
  /** Extra headers on every request (e.g. Azure's `api-key`). @default {} */
  defaultHeaders?: Record<string, string>;
  /** Extra query parameters on every request (e.g. Azure's `api-version`). @default {} */
  defaultQuery?: Record<string, string>;
}

type ChatMessageParam = ChatCompletionCreateParamsBase["messages"][number];

function maxTokensField(option: OpenAIProviderOptions["maxTokensParameter"], model: string): "max_tokens" | "max_completion_tokens" {
  if (option && option !== "auto") return option;
  return /^(o\d|gpt-5)/.test(model) ? "max_completion_tokens" : "max_tokens";
}

function usageOf(raw: { prompt_tokens?: number; completion_tokens?: number } | null | undefined, fallback: TokenUsage): TokenUsage {
  if (!raw) return fallback;
  return { inputTokens: raw.prompt_tokens ?? fallback.inputTokens, outputTokens: raw.completion_tokens ?? fallback.outputTokens };
}

/** The `openai` client, for OpenAI and every server speaking its API (Azure v1, vLLM, Ollama, ...). */
export function createOpenAIProvider(options: OpenAIProviderOptions = {}): Provider {
  const name = options.name ?? "openai";
  const client = new OpenAI({
    apiKey: options.apiKey ?? "sk-no-key",
    baseURL: options.baseURL ?? "https://api.openai.com/v1",
    maxRetries: 0,
    timeout: options.timeoutMs ?? 60_000,
    defaultHeaders: options.defaultHeaders,
    defaultQuery: options.defaultQuery,
  });
  const streamUsage = options.streamUsage ?? true;

  function chatBody(request: CompletionRequest): ChatCompletionCreateParamsBase {
    const messages: ChatMessageParam[] = requestMessages(request).map((m) => ({ role: m.role, content: m.content }));
    return {
      model: request.model,
      messages,
      [maxTokensField(options.maxTokensParameter, request.model)]: request.maxOutputTokens,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    };
  }

  async function completeOnce(request: CompletionRequest): Promise<CompletionResult> {
    const { data, response } = await client.chat.completions
      .create({ ...chatBody(request), stream: false }, { signal: request.signal })
      .withResponse();
    const choice = data.choices[0];
    const text = choice?.message.content ?? "";
    const estimate = { inputTokens: estimateInputTokens(request), outputTokens: estimateTokens(text) };
    return {
      text,
      usage: usageOf(data.usage, estimate),
      model: data.model || request.model,
      provider: name,
      finishReason: choice?.finish_reason ?? undefined,
      rateLimit: readRateLimitInfo(response.headers),
    };
  }

  async function completeStreaming(request: CompletionRequest, onText: (delta: string) => void): Promise<CompletionResult> {
    const body = { ...chatBody(request), stream: true as const, ...(streamUsage ? { stream_options: { include_usage: true } } : {}) };
    const { data: stream, response } = await client.chat.completions.create(body, { signal: request.signal }).withResponse();
    let text = "";
    let model = request.model;
    let finishReason: string | undefined;
    let usage: TokenUsage | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      const delta = choice?.delta.content;
      if (delta) {
        text += delta;
        onText(delta);
      }
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.model) model = chunk.model;
      if (chunk.usage) usage = usageOf(chunk.usage, { inputTokens: 0, outputTokens: 0 });
    }
    const estimate = { inputTokens: estimateInputTokens(request), outputTokens: estimateTokens(text) };
    return { text, usage: usage ?? estimate, model, provider: name, finishReason, rateLimit: readRateLimitInfo(response.headers) };
  }

  async function embedOnce(request: EmbeddingRequest): Promise<EmbeddingResult> {
    const body = {
      model: request.model,
      input: [...request.inputs],
      ...(request.dimensions !== undefined ? { dimensions: request.dimensions } : {}),
    };
    const { data, response } = await client.embeddings.create(body, { signal: request.signal }).withResponse();
    const vectors = [...data.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    if (vectors.length !== request.inputs.length) {
      throw new SluiceError("PROVIDER_ERROR", `${name} returned ${vectors.length} embeddings for ${request.inputs.length} inputs`, {
        details: { provider: name, model: request.model },
      });
    }
    const inputTokens = data.usage?.prompt_tokens ?? request.inputs.reduce((sum, t) => sum + estimateTokens(t), 0);
    return {
      vectors,
      usage: { inputTokens, outputTokens: 0 },
      model: data.model || request.model,
      provider: name,
      rateLimit: readRateLimitInfo(response.headers),
    };
  }

  async function guarded<T>(request: { model: string; signal?: AbortSignal | undefined }, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw translateOpenAIError(err, { provider: name, model: request.model, signal: request.signal });
    }
  }

  return {
    name,
    capabilities: { complete: true, embed: true, stream: true },
    complete: (request) => guarded(request, () => (request.onText ? completeStreaming(request, request.onText) : completeOnce(request))),
    embed: (request) =>
      request.inputs.length === 0
        ? Promise.resolve({ vectors: [], usage: { inputTokens: 0, outputTokens: 0 }, model: request.model, provider: name })
        : guarded(request, () => embedOnce(request)),
    async health(signal?: AbortSignal): Promise<ProviderHealth> {
      const started = performance.now();
      try {
        await client.models.list({ signal });
        return { ok: true, latencyMs: performance.now() - started, detail: "listed models" };
      } catch (err) {
        const translated = translateOpenAIError(err, { provider: name, model: undefined, signal });
        const code = translated instanceof SluiceError ? translated.code : "PROVIDER_ERROR";
        return { ok: false, latencyMs: performance.now() - started, detail: `${code}: ${translated.message}` };
      }
    },
    close: async () => undefined,
  };
}
