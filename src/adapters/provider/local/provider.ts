import { SluiceError } from "../../../core/errors.ts";
import {
  estimateInputTokens,
  estimateTokens,
  requestMessages,
  type ChatMessage,
  type CompletionRequest,
  type CompletionResult,
  type EmbeddingResult,
  type Provider,
} from "../../../ports/provider.ts";
import { hashedEmbedding, LOCAL_EMBEDDING_MODEL } from "./hashed-embedding.ts";
import { classifyByLabels, classifySentiment, extractiveSummary, truncateText } from "./rules.ts";

/** Name reported as the model of every local completion. */
export const LOCAL_COMPLETION_MODEL = "sluice-local-rules-v1";

export interface LocalProviderOptions {
  /** @default "local" */
  name?: string;
  /** Embedding size when a request names none (config `AI_EMBEDDING_DIMENSIONS`). @default 384 */
  dimensions?: number;
}

type LocalTask = "sentiment" | "classify" | "summary" | "echo";

interface Understood {
  task: LocalTask;
  input: string;
  labels: string[];
  json: boolean;
}

const TASK_WORDS: [LocalTask, RegExp][] = [
  ["sentiment", /\bsentiment|\b(tone|mood)\b/i],
  ["summary", /\bsummar|\btl;?dr\b|\bcondense\b/i],
  ["classify", /\bclassif|\bcategor|\blabel/i],
];

/** "Summarise this:\n\n<text>" -> the instruction and the text it is about (blank line first, then colon). */
function splitInstruction(content: string): { instruction: string; input: string } {
  const isInstruction = (text: string): boolean => TASK_WORDS.some(([, re]) => re.test(text));
  const blank = /^([\s\S]{0,600}?)\n\s*\n([\s\S]+)$/.exec(content);
  if (blank && isInstruction(blank[1] ?? "")) return { instruction: blank[1] ?? "", input: (blank[2] ?? "").trim() };
  const colon = /^([^\n]{0,400}?):\s*([\s\S]+)$/.exec(content);
  if (colon && isInstruction(colon[1] ?? "")) return { instruction: colon[1] ?? "", input: (colon[2] ?? "").trim() };
  return { instruction: "", input: content };
}

function labelsIn(instructions: string): string[] {
  const match = /\b(?:labels?|categories|options?)\s*(?:are|is)?\s*[:=]\s*\[?([^\n\]]+)|\bone of\s*[:=]?\s*\[?([^\n\]]+)/i.exec(
    instructions,
  );
  const list = match?.[1] ?? match?.[2];
  if (!list) return [];
  return list
    .split(/,|\|| or /)
    .map((s) => s.replace(/["'`.]/g, "").trim())
    .filter((s) => s.length > 0 && s.length < 60);
}

/** Reads the task from the system prompt and the last user turn. */
function understand(messages: readonly ChatMessage[]): Understood {
  const system = messages
    .filter((m) => m.role === "system")
    .map((m) => m.content)
    .join("\n");
  const lastUser = [...messages].reverse().find((m) => m.role === "user")?.content ?? "";
  const { instruction, input } = splitInstruction(lastUser);
  const instructions = `${system}\n${instruction}`;
  const task = TASK_WORDS.find(([, re]) => re.test(instructions))?.[0] ?? "echo";
  return { task, input, labels: labelsIn(instructions), json: /\bjson\b/i.test(instructions) };
}

function answer(understood: Understood, maxChars: number): string {
  const { task, input, labels, json } = understood;
  if (task === "sentiment" && labels.filter((l) => !["positive", "negative", "neutral"].includes(l.toLowerCase())).length === 0) {
    const result = classifySentiment(input);
    return json ? JSON.stringify({ label: result.label, score: Number(result.score.toFixed(3)) }) : result.label;
  }
  if (task === "classify" || task === "sentiment") {
    const label = classifyByLabels(input, labels) ?? classifySentiment(input).label;
    return json ? JSON.stringify({ label }) : label;
  }
  if (task === "summary") return extractiveSummary(input, { maxChars });
  return truncateText(input, maxChars);
}

/**
 * The embedded, offline provider. Completions are rules (sentiment by lexicon, classification
 * by label overlap, extractive summaries, echo), embeddings are hashed n-gram features. It is
 * deterministic and free, and it is NOT a language model.
 */
export function createLocalProvider(options: LocalProviderOptions = {}): Provider {
  const name = options.name ?? "local";
  const defaultDimensions = options.dimensions ?? 384;

  function complete(request: CompletionRequest): CompletionResult {
    if (request.signal?.aborted)
      throw new SluiceError("PROVIDER_TIMEOUT", `${name} call was aborted`, { details: { provider: name, model: request.model } });
    const understood = understand(requestMessages(request));
    const maxChars = Math.max(1, request.maxOutputTokens * 4);
    const text = answer(understood, maxChars);
    if (request.onText) for (const piece of text.match(/\S+\s*/g) ?? []) request.onText(piece);
    const truncated = understood.task === "echo" && text.length < understood.input.length;
    return {
      text,
      usage: { inputTokens: estimateInputTokens(request), outputTokens: estimateTokens(text) },
      model: LOCAL_COMPLETION_MODEL,
      provider: name,
      finishReason: truncated ? "length" : "stop",
    };
  }

  function embed(inputs: readonly string[], dimensions: number | undefined): EmbeddingResult {
    const size = dimensions ?? defaultDimensions;
    if (!Number.isInteger(size) || size < 1 || size > 16_384) {
      throw new SluiceError("PROVIDER_BAD_REQUEST", `dimensions must be a whole number from 1 to 16384, got ${size}`, {
        details: { provider: name },
      });
    }
    return {
      vectors: inputs.map((text) => hashedEmbedding(text, size)),
      usage: { inputTokens: inputs.reduce((sum, t) => sum + estimateTokens(t), 0), outputTokens: 0 },
      model: LOCAL_EMBEDDING_MODEL,
      provider: name,
    };
  }

  return {
    name,
    capabilities: { complete: true, embed: true, stream: true },
    ownModels: { completion: LOCAL_COMPLETION_MODEL, embedding: LOCAL_EMBEDDING_MODEL },
    complete: async (request) => complete(request),
    embed: async (request) => embed(request.inputs, request.dimensions),
    health: async () => ({ ok: true, latencyMs: 0, detail: "offline rules and hashed embeddings" }),
    close: async () => undefined,
  };
}
