import { cosineSimilarity, hashedEmbedding, tokenize } from "./hashed-embedding.ts";

/**
 * Rule-based text functions: what the `local` provider answers with, and what tasks can use as
 * their rule-based fallback when every model is unavailable. They are rules, not a language model.
 */

type SentimentLabel = "positive" | "negative" | "neutral";

export interface SentimentResult {
  label: SentimentLabel;
  /** Net lexicon score divided by the number of sentiment words seen: -1 (all negative) .. 1. */
  score: number;
  positive: number;
  negative: number;
}

// English plus a few Romanian words (the runbooks' customers), accents folded like tokenize().
const POSITIVE = new Set(
  (
    "good great excellent amazing awesome love loved lovely like liked happy glad pleased satisfied fantastic wonderful perfect best better " +
    "nice helpful fast quick easy recommend recommended thanks thank grateful impressive reliable smooth enjoy enjoyed works worked fixed resolved " +
    "brilliant superb delighted positive success successful bun buna bune excelent multumesc multumim super perfect recomand minunat rapid multumit"
  ).split(" "),
);
const NEGATIVE = new Set(
  (
    "bad terrible awful horrible hate hated worst worse poor slow broken bug bugs buggy crash crashed crashes fail failed failing failure error errors " +
    "problem problems issue issues angry annoyed annoying disappointed disappointing frustrating frustrated useless unhappy refund cancel cancelled " +
    "complaint complain late delay delayed expensive overpriced rude wrong missing negative scam " +
    "prost proasta rau rea nemultumit nemultumita problema probleme intarziere anulez dezamagit dezamagita groaznic scump lent eroare"
  ).split(" "),
);
const NEGATORS = new Set("not no never dont don't isnt wasnt cant cannot won't wont didnt doesnt nu".split(" "));
const NEGATION_WINDOW = 3;

/** Lexicon sentiment with simple negation ("not good" counts as negative). */
export function classifySentiment(text: string): SentimentResult {
  const words = tokenize(text);
  let positive = 0;
  let negative = 0;
  let negatedUntil = -1;
  words.forEach((word, i) => {
    if (NEGATORS.has(word)) {
      negatedUntil = i + NEGATION_WINDOW;
      return;
    }
    const polarity = POSITIVE.has(word) ? 1 : NEGATIVE.has(word) ? -1 : 0;
    const signed = i <= negatedUntil ? -polarity : polarity;
    if (signed > 0) positive++;
    if (signed < 0) negative++;
  });
  const seen = positive + negative;
  const score = seen === 0 ? 0 : (positive - negative) / seen;
  const label: SentimentLabel = score > 0.1 ? "positive" : score < -0.1 ? "negative" : "neutral";
  return { label, score, positive, negative };
}

/** Sentences, split after . ! ? or line breaks. */
function splitSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Extractive summary: the sentences whose content words are most frequent across the text, in
 * their original order, at most `maxSentences` and `maxChars` long.
 */
export function extractiveSummary(text: string, options: { maxSentences?: number; maxChars?: number } = {}): string {
  const maxSentences = options.maxSentences ?? 3;
  const maxChars = options.maxChars ?? 1_000;
  const sentences = splitSentences(text);
  if (sentences.length <= maxSentences) return truncate(sentences.join(" "), maxChars);
  const frequency = new Map<string, number>();
  for (const word of tokenize(text)) if (word.length > 3) frequency.set(word, (frequency.get(word) ?? 0) + 1);
  const scored = sentences.map((sentence, index) => {
    const words = tokenize(sentence).filter((w) => w.length > 3);
    const total = words.reduce((sum, w) => sum + (frequency.get(w) ?? 0), 0);
    return { sentence, index, score: words.length === 0 ? 0 : total / Math.sqrt(words.length) };
  });
  const chosen = [...scored]
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, maxSentences)
    .sort((a, b) => a.index - b.index);
  return truncate(chosen.map((c) => c.sentence).join(" "), maxChars);
}

function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars);
  const lastSpace = cut.lastIndexOf(" ");
  return lastSpace > maxChars / 2 ? cut.slice(0, lastSpace) : cut;
}

/** The label whose name best matches the text: shared words first, then hashed-feature similarity. */
export function classifyByLabels(text: string, labels: readonly string[]): string | undefined {
  if (labels.length === 0) return undefined;
  const words = new Set(tokenize(text));
  const vector = hashedEmbedding(text, 256);
  const scored = labels.map((label, index) => {
    const labelWords = tokenize(label);
    const overlap = labelWords.filter((w) => words.has(w)).length;
    return { label, index, overlap, similarity: cosineSimilarity(vector, hashedEmbedding(label, 256)) };
  });
  scored.sort((a, b) => b.overlap - a.overlap || b.similarity - a.similarity || a.index - b.index);
  return scored[0]?.label;
}

export { truncate as truncateText };

/** The rule-based `classify`: sentiment without labels, else the first label the text names (else the first label). */
export function classifyByRules(text: string, labels: readonly string[] | undefined): string {
  if (!labels) return classifySentiment(text).label;
  return classifyByLabels(text, labels) ?? labels[0] ?? "unknown";
}
