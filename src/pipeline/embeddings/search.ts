import { SluiceError } from "../../core/errors.ts";
import type { Histogram } from "../../ports/metrics.ts";
import type { Store } from "../../ports/store.ts";
import { DEFAULT_K, searchItems, validateVector, type Vector } from "./sql/index.ts";
import type { ProviderRuntime } from "../runtime/index.ts";

export interface SearchRequest {
  /** Text to search for: embedded through the provider runtime with the backfill's model and dimensions. */
  query?: string | undefined;
  /** Or a ready query vector of AI_EMBEDDING_DIMENSIONS numbers. */
  vector?: readonly number[] | undefined;
  /** Results wanted (capped at 100). @default 10 */
  k?: number | undefined;
  /** Only items whose metadata contains this object (jsonb `@>`). */
  filter?: Record<string, unknown> | undefined;
  /** HNSW candidate list (`hnsw.ef_search`). @default 64 */
  efSearch?: number | undefined;
  /** Only vectors made by this model. @default the model that embedded `query`; none for `vector` */
  model?: string | undefined;
}

export interface SearchResponse {
  hits: Array<{ id: string; score: number; distance: number; metadata: Record<string, unknown> }>;
  k: number;
  /** The model the compared vectors come from, when filtered by one. */
  model: string | null;
}

interface SearchDeps {
  store: Store;
  runtime: Pick<ProviderRuntime, "embed">;
  dimensions: number;
  latency: Histogram | undefined;
}

async function queryVector(deps: SearchDeps, request: SearchRequest): Promise<{ vector: Vector; model: string | null }> {
  const hasText = typeof request.query === "string";
  if (hasText === (request.vector !== undefined))
    throw new SluiceError("VALIDATION_FAILED", "Give either query (text) or vector, not both", { details: { field: "query" } });
  if (request.vector !== undefined) {
    const vector = validateVector(request.vector, undefined, "vector");
    if (vector.length !== deps.dimensions) {
      throw new SluiceError(
        "VECTOR_DIMENSION_MISMATCH",
        `vector has ${vector.length} dimensions; this server's embeddings have ${deps.dimensions} (AI_EMBEDDING_DIMENSIONS)`,
        {
          details: { field: "vector", dimensions: vector.length, expected: deps.dimensions },
        },
      );
    }
    return { vector, model: request.model ?? null };
  }
  const text = (request.query ?? "").trim();
  if (text.length === 0) throw new SluiceError("VALIDATION_FAILED", "query must not be blank", { details: { field: "query" } });
  const answer = await deps.runtime.embed({ inputs: [text], dimensions: deps.dimensions }, { task: "embeddings.search" });
  const vector = answer.vectors[0];
  if (!vector) throw new SluiceError("PROVIDER_ERROR", "the provider returned no embedding for the query");
  return { vector, model: request.model ?? answer.model };
}

/** The k nearest items of one workspace to a text or a vector, with cosine scores. */
export async function searchWorkspace(deps: SearchDeps, workspaceId: string, request: SearchRequest): Promise<SearchResponse> {
  const { vector, model } = await queryVector(deps, request);
  const k = request.k ?? DEFAULT_K;
  const hits = await searchItems(
    deps.store,
    workspaceId,
    {
      vector,
      k,
      ...(request.filter !== undefined ? { filter: request.filter } : {}),
      ...(request.efSearch !== undefined ? { efSearch: request.efSearch } : {}),
      ...(model !== null ? { model } : {}),
    },
    deps.latency ? { latency: deps.latency } : {},
  );
  return { hits: hits.map((h) => ({ id: h.externalId, score: h.score, distance: h.distance, metadata: h.metadata })), k, model };
}
