import { countTokens as countO200k } from "gpt-tokenizer/encoding/o200k_base";

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
