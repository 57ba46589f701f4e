/**
 * Feature-hashing embeddings: no model, no network, the same vector for the same text on every
 * machine. Word unigrams and bigrams plus character 3-grams of each word are hashed into a fixed
 * number of dimensions with a sign bit (the "hashing trick"), then L2-normalised. Texts sharing
 * words or word stems land close in cosine similarity; meaning beyond shared surface forms is
 * NOT captured (synonyms with no shared letters score as unrelated).
 */

/** Name reported as the model of every local embedding, so nobody mistakes it for a real one. */
export const LOCAL_EMBEDDING_MODEL = "sluice-local-hashed-ngrams-v1";

const WEIGHT_WORD = 1;
const WEIGHT_STOPWORD = 0.2;
const WEIGHT_BIGRAM = 0.6;
const WEIGHT_TRIGRAM_TOTAL = 0.8;

const STOPWORDS = new Set(
  "a an and are as at be been but by do does for from has have he her his i if in into is it its of on or our she so than that the their them then there these they this to was we were what when which who will with you your".split(
    " ",
  ),
);

/** Lower case, accents removed (NFKD minus combining marks), split into letter/digit runs. */
export function tokenize(text: string): string[] {
  const folded = text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase();
  return folded.match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** FNV-1a over UTF-16 code units, then murmur3's finaliser to spread the bits. */
function hash32(text: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function addFeature(vector: Float64Array, feature: string, weight: number): void {
  const index = hash32(feature, 0) % vector.length;
  const sign = (hash32(feature, 0x9e3779b9) & 1) === 0 ? 1 : -1;
  vector[index] = (vector[index] ?? 0) + sign * weight;
}

function addWordFeatures(vector: Float64Array, words: readonly string[]): void {
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? "";
    const stop = STOPWORDS.has(word);
    addFeature(vector, `w:${word}`, stop ? WEIGHT_STOPWORD : WEIGHT_WORD);
    const next = words[i + 1];
    if (next !== undefined && !(stop && STOPWORDS.has(next))) addFeature(vector, `b:${word} ${next}`, WEIGHT_BIGRAM);
    if (stop) continue;
    // Character 3-grams of the padded word let "sitting" meet "sit" and "refunded" meet "refund".
    const padded = `<${word}>`;
    const grams = padded.length - 2;
    for (let j = 0; j < grams; j++) addFeature(vector, `c:${padded.slice(j, j + 3)}`, WEIGHT_TRIGRAM_TOTAL / Math.sqrt(grams));
  }
}

/** The embedding of `text` in `dimensions` dimensions, unit length (empty text included). */
export function hashedEmbedding(text: string, dimensions: number): number[] {
  const vector = new Float64Array(dimensions);
  const words = tokenize(text);
  if (words.length === 0) addFeature(vector, "e:empty", 1);
  else addWordFeatures(vector, words);
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm);
  // A text whose features cancel out exactly still gets a defined direction.
  if (norm === 0) return hashedEmbedding("", dimensions);
  return Array.from(vector, (v) => v / norm);
}

/** Cosine similarity of two vectors of equal length (dot product when both are unit length). */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
