import { z } from "zod";
import { SluiceError } from "../../core/errors.ts";
import type { ProviderRuntime, RuntimeCompletionResult } from "../runtime/index.ts";
import type { TaskDefinition } from "./registry.ts";
import type { Accounting } from "../accounting/index.ts";
import { withCache, type ResultCache } from "../cache/index.ts";

const message = z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string().max(200_000) });

const completeInput = z
  .object({
    prompt: z.string().min(1).max(200_000).optional(),
    messages: z.array(message).min(1).max(200).optional(),
    provider: z.string().max(50).optional(),
    model: z.string().max(200).optional(),
    max_output_tokens: z.number().int().positive().max(1_000_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    /** false: neither read nor write the result cache for this call. */
    cache: z.boolean().optional(),
  })
  .refine((v) => Boolean(v.prompt) !== Boolean(v.messages), { error: "give exactly one of prompt or messages" });

const embedInput = z
  .object({
    text: z.string().min(1).max(100_000).optional(),
    texts: z.array(z.string().min(1).max(100_000)).min(1).max(2048).optional(),
    provider: z.string().max(50).optional(),
    model: z.string().max(200).optional(),
    dimensions: z.number().int().min(8).max(4096).optional(),
    cache: z.boolean().optional(),
  })
  .refine((v) => Boolean(v.text) !== Boolean(v.texts), { error: "give exactly one of text or texts" });

const classifyInput = z.object({
  text: z.string().min(1).max(100_000),
  /** Absent: sentiment (positive, negative, neutral). */
  labels: z.array(z.string().min(1).max(100)).min(2).max(50).optional(),
  provider: z.string().max(50).optional(),
  model: z.string().max(200).optional(),
  cache: z.boolean().optional(),
});

const meta = (
  r:
    | RuntimeCompletionResult
    | { fallback: boolean; servedBy: { provider: string; model: string }; usage: { inputTokens: number; outputTokens: number } },
) => ({
  fallback: r.fallback,
  served_by: r.servedBy,
  usage: { input_tokens: r.usage.inputTokens, output_tokens: r.usage.outputTokens },
});

const SENTIMENT = ["positive", "negative", "neutral"];

/** Maps a model's free-text answer onto one of the labels (first label it names). */
function pickLabel(answer: string, labels: readonly string[]): string | undefined {
  const lower = answer.toLowerCase();
  const hits = labels.map((l) => ({ l, at: lower.indexOf(l.toLowerCase()) })).filter((h) => h.at >= 0);
  return hits.sort((a, b) => a.at - b.at)[0]?.l;
}

/** Labels a text without a model (sentiment when no labels are given): the answer when every provider route is down. */
type RuleClassifier = (text: string, labels: readonly string[] | undefined) => string;

/** The routes a request that names none goes to (they are part of the cache key). */
interface BuiltinDefaults {
  provider: string;
  model: string;
  maxOutputTokens: number;
  embeddingProvider: string;
  embeddingModel: string;
  embeddingDimensions: number;
}

export interface BuiltinTaskOptions {
  /** Result cache for deterministic calls (see docs/providers.md "Result cache"). */
  cache?: ResultCache | undefined;
  /** Where each provider call's tokens and cost are counted, per the job's workspace. */
  accounting?: Pick<Accounting, "record"> | undefined;
  /** Needed with `cache`. */
  defaults?: BuiltinDefaults | undefined;
  /** Models a job may name (config `allowedModels`); absent: any. */
  allowedModels?: readonly string[] | undefined;
  /** Providers a job may name (those configured); absent: any. */
  providers?: readonly string[] | undefined;
  /** Answers `classify` when every provider route is down (marked fallback); absent: the job waits or fails like any other. */
  ruleClassifier?: RuleClassifier | undefined;
}

/**
 * A job's `model` and `provider` become metric labels and health entries: only configured values
 * may come in, or any tenant could grow /metrics and /ready without bound.
 */
function routeCheck(options: BuiltinTaskOptions): (input: { provider?: string | undefined; model?: string | undefined }) => void {
  const models = options.allowedModels ? new Set(options.allowedModels) : undefined;
  const providers = options.providers ? new Set(options.providers) : undefined;
  return (input) => {
    if (input.model !== undefined && models && !models.has(input.model)) {
      throw new SluiceError("MODEL_NOT_ALLOWED", `Model "${input.model.slice(0, 100)}" is not configured on this server`, {
        details: { allowed: [...models] },
      });
    }
    if (input.provider !== undefined && providers && !providers.has(input.provider)) {
      throw new SluiceError("PROVIDER_NOT_CONFIGURED", `No AI provider named "${input.provider.slice(0, 50)}" is configured`, {
        details: { configured: [...providers] },
      });
    }
  };
}

type Served = { servedBy: { provider: string; model: string }; usage: { inputTokens: number; outputTokens: number }; fallback: boolean };
const notFallback = (output: { fallback?: unknown }): boolean => output.fallback !== true;

/** The task types every Sluice runs; their kill switches are listed (and set from the environment) from here. */
export const BUILTIN_TASK_NAMES = { complete: "llm.complete", embed: "embed", classify: "classify" } as const;

/** The task types every Sluice runs: `llm.complete`, `embed`, `classify`. */
export function builtinTasks(runtime: ProviderRuntime, options: BuiltinTaskOptions = {}): TaskDefinition[] {
  const count = (workspace: string, r: Served): void =>
    options.accounting?.record({
      workspace,
      provider: r.servedBy.provider,
      model: r.servedBy.model,
      inputTokens: r.usage.inputTokens,
      outputTokens: r.usage.outputTokens,
    });
  const d = options.defaults;
  const check = routeCheck(options);
  const rule = options.ruleClassifier;
  const complete: TaskDefinition<z.output<typeof completeInput>> = {
    name: BUILTIN_TASK_NAMES.complete,
    input: completeInput,
    check,
    handler: async (input, ctx) => {
      const result = await runtime.complete(
        {
          ...(input.prompt ? { prompt: input.prompt } : {}),
          ...(input.messages ? { messages: input.messages } : {}),
          ...(input.provider ? { provider: input.provider } : {}),
          ...(input.model ? { model: input.model } : {}),
          ...(input.max_output_tokens ? { maxOutputTokens: input.max_output_tokens } : {}),
          ...(input.temperature !== undefined ? { temperature: input.temperature } : {}),
          signal: ctx.signal,
        },
        { task: "llm.complete" },
      );
      count(ctx.workspace, result);
      return { text: result.text, model: result.model, provider: result.provider, ...meta(result) };
    },
  };

  const embed: TaskDefinition<z.output<typeof embedInput>> = {
    name: BUILTIN_TASK_NAMES.embed,
    input: embedInput,
    check,
    handler: async (input, ctx) => {
      const inputs = input.texts ?? [input.text ?? ""];
      const result = await runtime.embed(
        {
          inputs,
          ...(input.provider ? { provider: input.provider } : {}),
          ...(input.model ? { model: input.model } : {}),
          ...(input.dimensions ? { dimensions: input.dimensions } : {}),
          signal: ctx.signal,
        },
        { task: "embed" },
      );
      count(ctx.workspace, result);
      return {
        vectors: result.vectors,
        dimensions: result.vectors[0]?.length ?? 0,
        model: result.model,
        provider: result.provider,
        ...meta(result),
      };
    },
  };

  const classify: TaskDefinition<z.output<typeof classifyInput>> = {
    name: BUILTIN_TASK_NAMES.classify,
    input: classifyInput,
    check,
    handler: async (input, ctx) => {
      const labels = input.labels ?? SENTIMENT;
      const what = input.labels ? "Classify the text." : "Classify the sentiment of the text.";
      const instruction = `${what}\nLabels: ${labels.join(", ")}\nAnswer with the label only.`;
      const result = await runtime.complete(
        {
          messages: [
            { role: "system", content: instruction },
            { role: "user", content: input.text },
          ],
          maxOutputTokens: 10,
          temperature: 0,
          ...(input.provider ? { provider: input.provider } : {}),
          ...(input.model ? { model: input.model } : {}),
          signal: ctx.signal,
        },
        // When every provider route is down, the rule-based classifier answers (marked fallback).
        { task: "classify", ...(rule ? { ruleFallback: () => rule(input.text, input.labels) } : {}) },
      );
      count(ctx.workspace, result);
      // A model answer that names no label: the rules decide, else the first label.
      const label = pickLabel(result.text, labels) ?? rule?.(input.text, input.labels) ?? labels[0] ?? "unknown";
      return { label, labels, model: result.model, provider: result.provider, ...meta(result) };
    },
  };

  // Deterministic calls only: embeddings always, classify always (temperature 0), completions when
  // temperature is 0 or not given; `cache: false` in the input opts out. Fallback answers are not stored.
  const cache = d ? options.cache : undefined;
  return [
    withCache(cache, complete, {
      storable: notFallback,
      keyOf: (i) =>
        i.cache === false || (i.temperature ?? 0) !== 0 || !d
          ? undefined
          : {
              task: complete.name,
              provider: i.provider ?? d.provider,
              model: i.model ?? d.model,
              input: i.messages ?? [{ role: "user", content: i.prompt }],
              params: { max_output_tokens: i.max_output_tokens ?? d.maxOutputTokens, temperature: i.temperature ?? null },
            },
    }),
    withCache(cache, embed, {
      storable: notFallback,
      keyOf: (i) =>
        i.cache === false || !d
          ? undefined
          : {
              task: embed.name,
              provider: i.provider ?? d.embeddingProvider,
              model: i.model ?? d.embeddingModel,
              input: i.texts ?? [i.text],
              params: { dimensions: i.dimensions ?? d.embeddingDimensions },
            },
    }),
    withCache(cache, classify, {
      storable: notFallback,
      keyOf: (i) =>
        i.cache === false || !d
          ? undefined
          : {
              task: classify.name,
              provider: i.provider ?? d.provider,
              model: i.model ?? d.model,
              input: { text: i.text, labels: i.labels ?? null },
            },
    }),
  ] as TaskDefinition[];
}
