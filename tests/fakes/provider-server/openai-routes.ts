import { base64Vector, fakeVector, limitReply, promptTokens, streamPieces, tokensOf, wireMessages } from "./content.ts";
import { HttpError, sendJson, sleep, startSse, writeSse, type FakeRoute, type RouteContext } from "./http.ts";
import type { FakeState } from "./state.ts";

/** OpenAI's chat completions (plain and SSE), embeddings and model list, on top of FakeState. */

interface ChatBody {
  model: string;
  maxTokens: number;
  stream: boolean;
  includeUsage: boolean;
}

function parseChat(body: unknown): ChatBody & { raw: Record<string, unknown> } {
  const raw = (body ?? {}) as Record<string, unknown>;
  if (typeof raw.model !== "string" || raw.model === "") throw new HttpError(400, "model: required");
  const maxTokens = Number(raw.max_completion_tokens ?? raw.max_tokens ?? 4096);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new HttpError(400, "max_tokens: expected a positive integer");
  const options = (raw.stream_options ?? {}) as { include_usage?: unknown };
  return { raw, model: raw.model, maxTokens, stream: raw.stream === true, includeUsage: options.include_usage === true };
}

function chatAnswer(state: FakeState, body: unknown) {
  const chat = parseChat(body);
  const messages = wireMessages(chat.raw);
  const { text, truncated } = limitReply(state.responder(messages, chat.model), chat.maxTokens);
  return {
    ...chat,
    text,
    finish: truncated ? "length" : "stop",
    usage: { prompt_tokens: promptTokens(messages), completion_tokens: tokensOf(text) },
  };
}

type ChatAnswer = ReturnType<typeof chatAnswer>;

async function streamChat(state: FakeState, ctx: RouteContext, answer: ChatAnswer, id: string, created: number): Promise<void> {
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model: answer.model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  });
  startSse(ctx.res);
  writeSse(ctx.res, chunk({ role: "assistant", content: "" }, null));
  for (const piece of streamPieces(answer.text)) {
    if (ctx.res.destroyed) return;
    await sleep(state.streamChunkDelayMs);
    writeSse(ctx.res, chunk({ content: piece }, null));
  }
  writeSse(ctx.res, chunk({}, answer.finish));
  if (answer.includeUsage) {
    const usage = { ...answer.usage, total_tokens: answer.usage.prompt_tokens + answer.usage.completion_tokens };
    writeSse(ctx.res, { id, object: "chat.completion.chunk", created, model: answer.model, choices: [], usage });
  }
  writeSse(ctx.res, "[DONE]");
  ctx.res.end();
}

export function openaiRoutes(state: FakeState): FakeRoute[] {
  const chat: FakeRoute = {
    method: "POST",
    path: "/v1/chat/completions",
    name: "chat",
    format: "openai",
    cost(body) {
      const answer = chatAnswer(state, body);
      const output = state.tokenAccounting === "reserved" ? answer.maxTokens : answer.usage.completion_tokens;
      return { model: answer.model, tokens: answer.usage.prompt_tokens + output };
    },
    async handle(ctx) {
      const answer = chatAnswer(state, ctx.body);
      const id = `chatcmpl-fake${state.stats.requests}`;
      const created = Math.floor(Date.now() / 1000);
      state.stats.inputTokens += answer.usage.prompt_tokens;
      state.stats.outputTokens += answer.usage.completion_tokens;
      state.record(ctx, chat, 200);
      if (answer.stream) return streamChat(state, ctx, answer, id, created);
      sendJson(ctx.res, 200, {
        id,
        object: "chat.completion",
        created,
        model: answer.model,
        choices: [
          { index: 0, message: { role: "assistant", content: answer.text, refusal: null }, finish_reason: answer.finish, logprobs: null },
        ],
        usage: { ...answer.usage, total_tokens: answer.usage.prompt_tokens + answer.usage.completion_tokens },
      });
    },
  };

  const embeddings: FakeRoute = {
    method: "POST",
    path: "/v1/embeddings",
    name: "embeddings",
    format: "openai",
    cost(body) {
      const { model, inputs } = parseEmbeddings(state, body);
      return { model, tokens: inputs.reduce((s, t) => s + tokensOf(t), 0) };
    },
    handle(ctx) {
      const { model, inputs, dimensions, base64 } = parseEmbeddings(state, ctx.body);
      const tokens = inputs.reduce((s, t) => s + tokensOf(t), 0);
      state.stats.inputTokens += tokens;
      state.record(ctx, embeddings, 200);
      const data = inputs.map((text, index) => {
        const vector = fakeVector(text, dimensions);
        return { object: "embedding", index, embedding: base64 ? base64Vector(vector) : vector };
      });
      sendJson(ctx.res, 200, { object: "list", data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
    },
  };

  const models: FakeRoute = {
    method: "GET",
    path: "/v1/models",
    name: "models",
    format: "openai",
    handle(ctx) {
      state.record(ctx, models, 200);
      // One shape both clients accept: OpenAI reads `object`/`data`, Anthropic `data`/`has_more`.
      const data = ["gpt-4o-mini", "text-embedding-3-small", "claude-3-5-haiku-latest"].map((id) => ({
        id,
        object: "model",
        type: "model",
        created: 1_700_000_000,
        created_at: "2024-10-22T00:00:00Z",
        display_name: id,
        owned_by: "sluice-fake",
      }));
      sendJson(ctx.res, 200, { object: "list", data, has_more: false, first_id: data[0]?.id, last_id: data.at(-1)?.id });
    },
  };

  return [chat, embeddings, models];
}

function parseEmbeddings(state: FakeState, body: unknown): { model: string; inputs: string[]; dimensions: number; base64: boolean } {
  const raw = (body ?? {}) as Record<string, unknown>;
  if (typeof raw.model !== "string" || raw.model === "") throw new HttpError(400, "model: required");
  const input = raw.input;
  const inputs =
    typeof input === "string" ? [input] : Array.isArray(input) && input.every((i) => typeof i === "string") ? input : undefined;
  if (!inputs || inputs.length === 0) throw new HttpError(400, "input: expected a string or a non-empty array of strings");
  const dimensions = raw.dimensions === undefined ? state.embeddingDimensions : Number(raw.dimensions);
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new HttpError(400, "dimensions: expected a positive integer");
  return { model: raw.model, inputs, dimensions, base64: raw.encoding_format === "base64" };
}
