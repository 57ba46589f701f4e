import { createRequire } from "node:module";

type Counter = (text: string) => number;
let o200k: Counter | undefined;

/**
 * The encoder is loaded on the first count, not at import: building its tables costs ~0.3-0.7 s of
 * CPU, on the path of every process start (`sluice dev`, `sluice --help`) that may never count a token.
 * The CommonJS build keeps the first count synchronous.
 */
function countO200k(text: string): number {
  o200k ??= (createRequire(import.meta.url)("gpt-tokenizer/encoding/o200k_base") as { countTokens: Counter }).countTokens;
  return o200k(text);
}

/**
 * Texts longer than this are counted on their first this-many characters and scaled to the whole
 * length: BPE on a megabyte of unusual text takes seconds of CPU, and the count is an estimate that
 * the provider's reported usage corrects after the call.
 */
export const MAX_TOKENIZED_CHARS = 50_000;

/**
 * Tokens of `text` as OpenAI's current models count them (the o200k_base encoding of gpt-4o, gpt-4.1
 * and the o-series; text-embedding-3 models use cl100k_base, within a few percent for most text).
 * For other providers it is a close estimate, better than characters ÷ 4 for code, numbers and
 * non-English text. Limits pre-charge by it; accounting uses the provider's reported usage instead
 * wherever a provider reports one.
 */
export function countTokens(text: string): number {
  if (text.length <= MAX_TOKENIZED_CHARS) return countO200k(text);
  const sampled = countO200k(text.slice(0, MAX_TOKENIZED_CHARS));
  return Math.ceil((sampled * text.length) / MAX_TOKENIZED_CHARS);
}
