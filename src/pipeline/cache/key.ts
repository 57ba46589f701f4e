import { createHash } from "node:crypto";

/**
 * Cache keys: `<task>:<provider>:<model>:<sha256 of the canonical input and parameters>`. The
 * readable head lets an operator clear by pattern (`embed:*`, `*:openai:gpt-4o-mini:*`); the hash
 * makes equal requests share a key whatever their JSON key order.
 */
export interface CacheKeyParts {
  /** Task type, e.g. `embed`. */
  task: string;
  provider: string;
  model: string;
  /** What the model sees (text, messages, labels). */
  input: unknown;
  /** What changes the answer besides the input (dimensions, max tokens, temperature). */
  params?: Record<string, unknown>;
}

/** JSON with object keys sorted at every depth, and `undefined` members left out (as JSON does). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

// Colons separate the readable parts, so they are escaped inside them.
const part = (s: string): string => s.replace(/[:\s*?[\]\\]/g, "_");

export function cacheKey(parts: CacheKeyParts): string {
  const hash = createHash("sha256")
    .update(canonicalJson({ input: parts.input, params: parts.params ?? {} }))
    .digest("hex");
  return `${part(parts.task)}:${part(parts.provider)}:${part(parts.model)}:${hash}`;
}
