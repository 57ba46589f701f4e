import { limitReply, promptTokens, streamPieces, tokensOf, wireMessages } from "./content.ts";
import { HttpError, sendJson, sleep, startSse, writeSse, type FakeRoute, type RouteContext } from "./http.ts";
import type { FakeState } from "./state.ts";

/** Anthropic's Messages API (plain and SSE), on top of FakeState. */

function messagesAnswer(state: FakeState, body: unknown) {
  const raw = (body ?? {}) as Record<string, unknown>;
  if (typeof raw.model !== "string" || raw.model === "") throw new HttpError(400, "model: Field required");
  const maxTokens = Number(raw.max_tokens);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new HttpError(400, "max_tokens: Field required");
  const messages = wireMessages(raw);
  if (messages.some((m) => m.role !== "system" && m.content === ""))
    throw new HttpError(400, "messages: text content blocks must be non-empty");
  const { text, truncated } = limitReply(state.responder(messages, raw.model), maxTokens);
  return {
    model: raw.model,
    maxTokens,
    stream: raw.stream === true,
    text,
    stop: truncated ? "max_tokens" : "end_turn",
    usage: { input_tokens: promptTokens(messages), output_tokens: tokensOf(text) },
  };
}

type MessagesAnswer = ReturnType<typeof messagesAnswer>;

async function streamMessages(state: FakeState, ctx: RouteContext, answer: MessagesAnswer, id: string): Promise<void> {
  startSse(ctx.res);
  const message = {
    id,
    type: "message",
    role: "assistant",
    model: answer.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: answer.usage.input_tokens, output_tokens: 1 },
  };
  writeSse(ctx.res, { type: "message_start", message }, "message_start");
  writeSse(ctx.res, { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }, "content_block_start");
  for (const piece of streamPieces(answer.text)) {
    if (ctx.res.destroyed) return;
    await sleep(state.streamChunkDelayMs);
    writeSse(ctx.res, { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: piece } }, "content_block_delta");
  }
  writeSse(ctx.res, { type: "content_block_stop", index: 0 }, "content_block_stop");
  writeSse(
    ctx.res,
    {
      type: "message_delta",
      delta: { stop_reason: answer.stop, stop_sequence: null },
      usage: { output_tokens: answer.usage.output_tokens },
    },
    "message_delta",
  );
  writeSse(ctx.res, { type: "message_stop" }, "message_stop");
  ctx.res.end();
}

export function anthropicRoutes(state: FakeState): FakeRoute[] {
  const messages: FakeRoute = {
    method: "POST",
    path: "/v1/messages",
    name: "messages",
    format: "anthropic",
    cost(body) {
      const answer = messagesAnswer(state, body);
      const output = state.tokenAccounting === "reserved" ? answer.maxTokens : answer.usage.output_tokens;
      return { model: answer.model, tokens: answer.usage.input_tokens + output };
    },
    async handle(ctx) {
      const answer = messagesAnswer(state, ctx.body);
      const id = `msg_fake${state.stats.requests}`;
      state.stats.inputTokens += answer.usage.input_tokens;
      state.stats.outputTokens += answer.usage.output_tokens;
      state.record(ctx, messages, 200);
      if (answer.stream) return streamMessages(state, ctx, answer, id);
      sendJson(ctx.res, 200, {
        id,
        type: "message",
        role: "assistant",
        model: answer.model,
        content: [{ type: "text", text: answer.text }],
        stop_reason: answer.stop,
        stop_sequence: null,
        usage: answer.usage,
      });
    },
  };
  return [messages];
}
