import type { EmbeddingResult, Failure } from "./sql/index.ts";
import { validateVector } from "./sql/index.ts";
import type { ClaimedItem } from "./sql/types.ts";
export type { EmbeddingBatchApi, RemoteBatch } from "../../ports/batch-api.ts";

const ITEM_PREFIX = "item-";

/** One JSONL line per item: an `/v1/embeddings` request with the item's text. */
export function buildInputJsonl(
  items: readonly ClaimedItem[],
  options: { model: string; dimensions: number; sendDimensions: boolean },
): string {
  return items
    .map((item) =>
      JSON.stringify({
        custom_id: `${ITEM_PREFIX}${item.id}`,
        method: "POST",
        url: "/v1/embeddings",
        body: {
          model: options.model,
          input: item.text,
          encoding_format: "float",
          ...(options.sendDimensions ? { dimensions: options.dimensions } : {}),
        },
      }),
    )
    .join("\n")
    .concat("\n");
}

interface OutputLine {
  custom_id?: unknown;
  response?: {
    status_code?: unknown;
    body?: { data?: Array<{ embedding?: unknown }>; model?: unknown; error?: { message?: unknown } };
  } | null;
  error?: { message?: unknown; code?: unknown } | null;
}

export interface ParsedOutput {
  results: EmbeddingResult[];
  failures: Failure[];
  /** The model the provider reports in its answers (the first one seen). */
  model: string | undefined;
  /** Lines that named no item of ours (ignored). */
  ignored: number;
}

function itemId(customId: unknown): number | undefined {
  if (typeof customId !== "string" || !customId.startsWith(ITEM_PREFIX)) return undefined;
  const id = Number(customId.slice(ITEM_PREFIX.length));
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

function lineFailure(id: number, line: OutputLine, status: number | undefined): Failure {
  const given = line.response?.body?.error?.message ?? line.error?.message;
  const message = typeof given === "string" ? given : `provider batch answered ${status ?? "no status"} for this item`;
  // A 4xx on one line is that input's fault (too long, rejected): retrying cannot help.
  return { id, message, permanent: status !== undefined && status >= 400 && status < 500 && status !== 429 };
}

/** Parses an output (or error) file: vectors for lines answered 200, failures for the rest. */
export function parseOutputJsonl(text: string, dimensions: number): ParsedOutput {
  const parsed: ParsedOutput = { results: [], failures: [], model: undefined, ignored: 0 };
  const seen = new Set<number>();
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue;
    let line: OutputLine;
    try {
      line = JSON.parse(raw) as OutputLine;
    } catch {
      parsed.ignored++;
      continue;
    }
    const id = itemId(line.custom_id);
    if (id === undefined || seen.has(id)) {
      parsed.ignored++;
      continue;
    }
    seen.add(id);
    const status = typeof line.response?.status_code === "number" ? line.response.status_code : undefined;
    const vector = line.response?.body?.data?.[0]?.embedding;
    if (status !== 200 || vector === undefined) {
      parsed.failures.push(lineFailure(id, line, status));
      continue;
    }
    try {
      parsed.results.push({ id, vector: validateVector(vector, dimensions, "embedding") });
      if (parsed.model === undefined && typeof line.response?.body?.model === "string") parsed.model = line.response.body.model;
    } catch (err) {
      parsed.failures.push({ id, message: `provider returned an invalid embedding: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  return parsed;
}
