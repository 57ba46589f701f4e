import { createHash } from "node:crypto";
import { HttpError } from "./http.ts";

/**
 * What the fake provider answers: deterministic text and vectors, and token counts by the same
 * four-characters-per-token rule Sluice estimates with, so tests can predict usage exactly.
 */

export interface WireMessage {
  role: string;
  content: string;
}

export type Responder = (messages: readonly WireMessage[], model: string) => string;

export const tokensOf = (text: string): number => Math.ceil(text.length / 4);

/** The default reply: "echo: " and the last user message. */
export const echoResponder: Responder = (messages) => `echo: ${[...messages].reverse().find((m) => m.role === "user")?.content ?? ""}`;

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content.map((part) => (typeof part === "object" && part && "text" in part ? String(part.text) : "")).join("");
  return "";
}

/** Messages from an OpenAI or Anthropic body (Anthropic's `system` becomes a system message). */
export function wireMessages(body: Record<string, unknown>): WireMessage[] {
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new HttpError(400, "messages: expected a non-empty array");
  const messages = (body.messages as { role?: unknown; content?: unknown }[]).map((m) => ({
    role: String(m.role),
    content: contentText(m.content),
  }));
  const system = contentText(body.system);
  return system ? [{ role: "system", content: system }, ...messages] : messages;
}

export function promptTokens(messages: readonly WireMessage[]): number {
  return messages.reduce((sum, m) => sum + tokensOf(m.content), 0);
}

/** The reply cut to `maxTokens` (at four characters per token), and why it stopped. */
export function limitReply(reply: string, maxTokens: number): { text: string; truncated: boolean } {
  const maxChars = maxTokens * 4;
  return reply.length <= maxChars ? { text: reply, truncated: false } : { text: reply.slice(0, maxChars), truncated: true };
}

/** Splits text into stream pieces: words with their trailing space. */
export function streamPieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/** A unit vector derived from the text's SHA-256, the same on every run. */
export function fakeVector(text: string, dimensions: number): number[] {
  const out: number[] = [];
  let block = createHash("sha256").update(text).digest();
  let counter = 0;
  while (out.length < dimensions) {
    for (let i = 0; i + 1 < block.length && out.length < dimensions; i += 2) out.push((block.readUInt16LE(i) - 32768) / 32768);
    block = createHash("sha256").update(block).update(String(++counter)).digest();
  }
  const norm = Math.sqrt(out.reduce((s, v) => s + v * v, 0)) || 1;
  return out.map((v) => v / norm);
}

/** OpenAI's `encoding_format: "base64"`: little-endian float32s, base64-encoded. */
export function base64Vector(vector: readonly number[]): string {
  const buffer = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => buffer.writeFloatLE(v, i * 4));
  return buffer.toString("base64");
}
