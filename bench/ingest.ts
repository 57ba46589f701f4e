/**
 * Into the embeddings store on PGlite, each line Sluice vs the bare SQL underneath, same run:
 *  1. item ingest (upsertItems: validation + sha256 + one INSERT ... unnest ... ON CONFLICT) vs a bare
 *     INSERT ... SELECT FROM unnest of the same rows, and re-ingest of unchanged items;
 *  2. vector writes without the HNSW index (isolates the write path): completeItems (binary vector[])
 *     vs UPDATE ... FROM unnest($text[]) with '[...]'::vector text parsing;
 *  3. the backfill store loop with the HNSW index in place (claim -> synthetic embed -> complete).
 *
 *   npx tsx bench/ingest.ts [--items 100000] [--chunk 5000] [--vectors 10000] [--backfill 5000] [--dims 384]
 */
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createPgliteStore } from "../src/adapters/store/pglite/store.ts";
import type { Store } from "../src/ports/store.ts";
import * as E from "../src/pipeline/embeddings/sql/index.ts";
import { embedNextChunk } from "../src/pipeline/embeddings/embed-chunk.ts";
import { migrate } from "../src/pipeline/migrator.ts";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "100000" },
    chunk: { type: "string", default: "5000" },
    vectors: { type: "string", default: "10000" },
    backfill: { type: "string", default: "5000" },
    dims: { type: "string", default: "384" },
  },
});
const N = Number(values.items);
const CHUNK = Number(values.chunk);
const V = Number(values.vectors);
const B = Number(values.backfill);
const DIMS = Number(values.dims);

const rate = (count: number, ms: number) => Math.round((count / ms) * 1000).toLocaleString("en-US");
const load = () => `(load avg ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cpus)`;

function items(n: number, from: number): E.ItemInput[] {
  return Array.from({ length: n }, (_, i) => ({
    externalId: `sku-${from + i}`,
    text: `Product ${from + i}: a sturdy thing in colour ${(from + i) % 17}, size ${(from + i) % 5}, for everyday use.`,
    metadata: { category: `c${(from + i) % 40}`, price: (from + i) % 300 },
  }));
}

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

async function ingestLine(store: Store): Promise<void> {
  const sluice = await timed(async () => {
    for (let i = 0; i < N; i += CHUNK) await E.upsertItems(store, "ingest-sluice", items(Math.min(CHUNK, N - i), i), { maxItems: CHUNK });
  });
  const again = await timed(async () => {
    for (let i = 0; i < N; i += CHUNK) await E.upsertItems(store, "ingest-sluice", items(Math.min(CHUNK, N - i), i), { maxItems: CHUNK });
  });
  const bare = await timed(async () => {
    for (let i = 0; i < N; i += CHUNK) {
      const rows = items(Math.min(CHUNK, N - i), i);
      await store.query(
        `INSERT INTO shop_product_embeddings (shop_id, external_id, content, metadata, content_hash)
         SELECT 'ingest-bare', e, c, m::jsonb, md5(c) FROM unnest($1::text[], $2::text[], $3::text[]) AS u(e, c, m)`,
        [rows.map((r) => r.externalId), rows.map((r) => r.text), rows.map((r) => JSON.stringify(r.metadata))],
      );
    }
  });
  console.log(
    `ingest pglite items=${N} chunk=${CHUNK}: sluice upsertItems ${rate(N, sluice)} items/s | bare INSERT..unnest ${rate(N, bare)} items/s | ` +
      `unchanged re-ingest ${rate(N, again)} items/s ${load()}`,
  );
}

async function vectorLine(store: Store, next: () => Float32Array): Promise<void> {
  await store.exec(`DROP INDEX ${E.VECTOR_INDEX}`);
  await E.upsertItems(store, "vectors", items(V, 0), { maxItems: V });
  const claimed = await E.claimItems(store, { workerId: "bench", workspaceId: "vectors", limit: V });
  const results = claimed.map((c) => ({ id: c.id, vector: next() }));
  const binary = await timed(async () => {
    for (let i = 0; i < V; i += CHUNK)
      await E.completeItems(store, { workerId: "bench", model: "bench", results: results.slice(i, i + CHUNK) });
  });
  const text = await timed(async () => {
    for (let i = 0; i < V; i += CHUNK) {
      const part = results.slice(i, i + CHUNK);
      await store.query(
        `UPDATE shop_product_embeddings s SET embedding = u.v::vector, dimensions = ${DIMS}, model = 'bench', status = 'completed'
         FROM unnest($1::bigint[], $2::text[]) AS u(id, v) WHERE s.id = u.id`,
        [part.map((r) => r.id), part.map((r) => `[${r.vector.join(",")}]`)],
      );
    }
  });
  console.log(
    `vector-write pglite rows=${V} dims=${DIMS} (no HNSW index): sluice completeItems (binary) ${rate(V, binary)} rows/s | bare UPDATE text '[...]'::vector ${rate(V, text)} rows/s ${load()}`,
  );
  await E.ensureVectorIndex(store, { dimensions: DIMS });
}

async function backfillLine(store: Store, next: () => Float32Array): Promise<void> {
  await E.upsertItems(store, "backfill", items(B, 0), { maxItems: B });
  const ms = await timed(async () => {
    for (;;) {
      const step = await embedNextChunk(store, {
        workerId: "bench",
        workspaceId: "backfill",
        limit: 500,
        model: "bench",
        embed: async (texts) => texts.map(() => next()),
      });
      if (step.claimed === 0) break;
    }
  });
  console.log(
    `backfill-store pglite items=${B} dims=${DIMS} chunk=500 (claim, synthetic embed, complete; HNSW index in place): ${rate(B, ms)} items/s ${load()}`,
  );
}

async function main(): Promise<void> {
  const store = await createPgliteStore({});
  await migrate(store);
  await store.query("INSERT INTO workspaces (id, name) SELECT w, w FROM unnest($1::text[]) AS w", [
    ["ingest-sluice", "ingest-bare", "vectors", "backfill"],
  ]);
  const next = E.clusteredVectors({ dimensions: DIMS, clusters: 256, spread: 0.6, seed: 9 });
  await ingestLine(store);
  await vectorLine(store, next);
  await backfillLine(store, next);
  await store.close();
}

await main();
