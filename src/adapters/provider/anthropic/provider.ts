import Anthropic from "@anthropic-ai/sdk";
import type { MessageCreateParamsBase, RawMessageStreamEvent } from "@anthropic-ai/sdk/resources/messages/messages";
import { SluiceError } from "../../../core/errors.ts";
import {
  estimateInputTokens,
  estimateTokens,
  requestMessages,
  type CompletionRequest,
  type CompletionResult,
  type Provider,
  type ProviderHealth,
} from "../../../ports/provider.ts";
import { readRateLimitInfo } from "../http-errors.ts";
import { toAnthropicConversation } from "./messages.ts";
import { translateAnthropicError } from "./translate-error.ts";

export interface AnthropicProviderOptions {
  /** Name in routes, metrics and results. @default "anthropic" */
  name?: string;
  apiKey: string;
  /** API root without `/v1`. @default "https://api.anthropic.com" */
  baseURL?: string | undefined;
  /** The client's own per-request timeout. @default 60000 */
  timeoutMs?: number | undefined;
}

interface StreamState {
  text: string;
  model: string;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
  finishReason: string | undefined;
}

function applyStreamEvent(state: StreamState, event: RawMessageStreamEvent, onText: (delta: string) => void): void {
  if (event.type === "message_start") {
    state.model = event.message.model || state.model;
    state.inputTokens = event.message.usage.input_tokens;
  } else if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
    state.text += event.delta.text;
    onText(event.delta.text);
  } else if (event.type === "message_delta") {
    state.outputTokens = event.usage.output_tokens;
    state.finishReason = event.delta.stop_reason ?? state.finishReason;
  }
}

/** Anthropic's Messages API through the official client. It has no embeddings endpoint. */
export function createAnthropicProvider(options: AnthropicProviderOptions): Provider {
  const name = options.name ?? "anthropic";
  const client = new Anthropic({
    apiKey: options.apiKey,
    baseURL: options.baseURL ?? "https://api.anthropic.com",
    maxRetries: 0,
    timeout: options.timeoutMs ?? 60_000,
  });

  function body(request: CompletionRequest): MessageCreateParamsBase {
    const { system, messages } = toAnthropicConversation(requestMessages(request));
    return {
      model: request.model,
      max_tokens: request.maxOutputTokens,
      messages,
      ...(system !== undefined ? { system } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    };
  }

  async function completeOnce(request: CompletionRequest): Promise<CompletionResult> {
    const { data, response } = await client.messages.create({ ...body(request), stream: false }, { signal: request.signal }).withResponse();
    const text = data.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("");
    return {
      text,
      usage: { inputTokens: data.usage.input_tokens, outputTokens: data.usage.output_tokens },
      model: data.model || request.model,
      provider: name,
      finishReason: data.stop_reason ?? undefined,
      rateLimit: readRateLimitInfo(response.headers),
    };
  }

  async function completeStreaming(request: CompletionRequest, onText: (delta: string) => void): Promise<CompletionResult> {
    const { data: stream, response } = await client.messages
      .create({ ...body(request), stream: true }, { signal: request.signal })
      .withResponse();
    const state: StreamState = { text: "", model: request.model, inputTokens: undefined, outputTokens: undefined, finishReason: undefined };
    for await (const event of stream) applyStreamEvent(state, event, onText);
    return {
      text: state.text,
      usage: {
        inputTokens: state.inputTokens ?? estimateInputTokens(request),
        outputTokens: state.outputTokens ?? estimateTokens(state.text),
      },
      model: state.model,
      provider: name,
      finishReason: state.finishReason,
      rateLimit: readRateLimitInfo(response.headers),
    };
  }

  return {
    name,
    capabilities: { complete: true, embed: false, stream: true },
    async complete(request) {
      try {
        return await (request.onText ? completeStreaming(request, request.onText) : completeOnce(request));
      } catch (err) {
        throw translateAnthropicError(err, { provider: name, model: request.model, signal: request.signal });
      }
    },
    embed: async (request) => {
      throw new SluiceError("PROVIDER_UNSUPPORTED", `${name} has no embeddings API; route embeddings to openai or local`, {
        details: { provider: name, model: request.model, operation: "embed" },
      });
    },
    async health(signal?: AbortSignal): Promise<ProviderHealth> {
      const started = performance.now();
      try {
        await client.models.list({ limit: 1 }, { signal });
        return { ok: true, latencyMs: performance.now() - started, detail: "listed models" };
      } catch (err) {
        const translated = translateAnthropicError(err, { provider: name, model: undefined, signal });
        const code = translated instanceof SluiceError ? translated.code : "PROVIDER_ERROR";
        return { ok: false, latencyMs: performance.now() - started, detail: `${code}: ${translated.message}` };
      }
    },
    close: async () => undefined,
  };
}
