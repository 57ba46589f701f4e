/**
 * Vector search on PGlite: N items x 384 clustered unit vectors (a Gaussian mixture, never uniform
 * random), HNSW (cosine) built with maintenance_work_mem 512MB. Measures p50/p95 latency and
 * recall@k against exact (brute-force) neighbours, through Sluice's searchItems() and through the
 * bare SQL query, in the same run on the same data and queries.
 *
 *   npx tsx bench/search.ts [--items 100000] [--queries 300] [--ef 40,100] [--k 10] [--dims 384]
 * (--ef takes a comma-separated list: the index is built once, each ef_search gets its lines.)
 */
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createPgliteStore } from "../src/adapters/store/pglite/store.ts";
import * as E from "../src/pipeline/embeddings/sql/index.ts";
import { migrate } from "../src/pipeline/migrator.ts";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "100000" },
    queries: { type: "string", default: "300" },
    ef: { type: "string", default: `${E.DEFAULT_EF_SEARCH},100` },
    k: { type: "string", default: "10" },
    dims: { type: "string", default: "384" },
  },
});
const N = Number(values.items);
const Q = Number(values.queries);
const EF_LIST = values.ef.split(",").map(Number);
const K = Number(values.k);
const DIMS = Number(values.dims);
const WS = "bench";
const CHUNK = 5_000;

const log = (message: string) => process.stderr.write(`${message}\n`);
const seconds = (from: number) => ((performance.now() - from) / 1000).toFixed(1);

async function load(store: Awaited<ReturnType<typeof createPgliteStore>>, data: Float32Array[]): Promise<void> {
  await store.query("INSERT INTO workspaces (id, name) VALUES ($1, $1)", [WS]);
  await store.exec(`DROP INDEX ${E.VECTOR_INDEX}`);
  let started = performance.now();
  for (let i = 0; i < N; i += CHUNK) {
    const items = Array.from({ length: Math.min(CHUNK, N - i) }, (_, j) => ({
      externalId: `doc-${i + j}`,
      text: `document ${i + j}`,
      metadata: { n: i + j },
    }));
    await E.upsertItems(store, WS, items);
    const claimed = await E.claimItems(store, { workerId: "bench", workspaceId: WS, limit: CHUNK });
    await E.completeItems(store, {
      workerId: "bench",
      model: "bench",
      results: claimed.map((c) => ({ id: c.id, vector: data[Number(c.externalId.slice(4))]! })),
    });
  }
  log(`loaded ${N} items with vectors in ${seconds(started)} s`);
  started = performance.now();
  await E.ensureVectorIndex(store, { dimensions: DIMS, maintenanceWorkMem: "512MB" });
  await store.exec("VACUUM ANALYZE shop_product_embeddings");
  log(`HNSW build (m=16, ef_construction=64, maintenance_work_mem=512MB): ${seconds(started)} s`);
}

/** Exact top-k by brute force in JS: the ground truth for recall. */
function exactTopK(data: Float32Array[], query: Float32Array, k: number): Set<string> {
  const best: { d: number; i: number }[] = [];
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    let dot = 0;
    for (let j = 0; j < v.length; j++) dot += v[j]! * query[j]!;
    const d = 1 - dot;
    if (best.length < k || d < best[best.length - 1]!.d) {
      best.push({ d, i });
      best.sort((a, b) => a.d - b.d);
      if (best.length > k) best.pop();
    }
  }
  return new Set(best.map((b) => `doc-${b.i}`));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Run {
  latencies: number[];
  recall: number;
}

type Search = (q: Float32Array) => Promise<string[]>;

/**
 * Runs every variant on each query in turn, so drift (GC, load) hits them alike. Who goes first
 * rotates: the first to run a query pays the buffer misses for its part of the graph (the table and
 * index outgrow PGlite's 128MB shared_buffers at 100k), the others find those pages cached.
 */
async function measure(queries: Float32Array[], truth: Set<string>[], variants: Search[]): Promise<Run[]> {
  for (const q of queries.slice(0, 20)) for (const search of variants) await search(q); // warm-up
  const runs = variants.map(() => ({ latencies: [] as number[], found: 0 }));
  for (let i = 0; i < queries.length; i++) {
    for (let turn = 0; turn < variants.length; turn++) {
      const v = (i + turn) % variants.length;
      const started = performance.now();
      const ids = await variants[v]!(queries[i]!);
      runs[v]!.latencies.push(performance.now() - started);
      runs[v]!.found += ids.filter((id) => truth[i]!.has(id)).length;
    }
  }
  return runs.map((r) => ({ latencies: r.latencies.sort((a, b) => a - b), recall: r.found / (queries.length * K) }));
}

const line = (name: string, ef: number, r: Run) =>
  `search ${name} items=${N} dims=${DIMS} k=${K} ef_search=${ef} queries=${Q}: p50=${percentile(r.latencies, 50).toFixed(2)}ms ` +
  `p95=${percentile(r.latencies, 95).toFixed(2)}ms recall@${K}=${r.recall.toFixed(3)} (load avg ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cpus)`;

async function main(): Promise<void> {
  const next = E.clusteredVectors({ dimensions: DIMS, clusters: 256, spread: 0.6, seed: 42 });
  let started = performance.now();
  const data = Array.from({ length: N }, () => next());
  const queries = Array.from({ length: Q }, () => next());
  log(`generated ${N} + ${Q} clustered vectors in ${seconds(started)} s`);
  started = performance.now();
  const truth = queries.map((q) => exactTopK(data, q, K));
  log(`exact neighbours for ${Q} queries in ${seconds(started)} s`);

  const store = await createPgliteStore({});
  await migrate(store);
  await load(store, data);

  // Bare: the plain pgvector query one would write by hand, in its own transaction with the same
  // SET LOCALs (PGlite's one session is shared), the vector sent as text or in binary.
  const bareSql = `SELECT external_id FROM shop_product_embeddings WHERE shop_id = $1 AND dimensions = ${DIMS}
    ORDER BY ${E.indexExpression(DIMS)} <=> $2::vector(${DIMS}) LIMIT $3`;
  for (const ef of EF_LIST) {
    const bare =
      (param: (q: Float32Array) => unknown): Search =>
      (q) =>
        store.transaction(async (tx) => {
          await tx.exec(`SET LOCAL hnsw.ef_search = ${ef}; SET LOCAL hnsw.iterative_scan = relaxed_order`);
          return (await tx.query<{ external_id: string }>(bareSql, [WS, param(q), K])).rows.map((r) => r.external_id);
        });
    const [sluice, text, binary] = await measure(queries, truth, [
      async (q) => (await E.searchItems(store, WS, { vector: q, k: K, efSearch: ef })).map((h) => h.externalId),
      bare((q) => `[${q.join(",")}]`),
      bare((q) => E.vectorParam(q)),
    ]);
    console.log(line("sluice searchItems()      ", ef, sluice!));
    console.log(line("bare SQL, vector as text ", ef, text!));
    console.log(line("bare SQL, vector binary  ", ef, binary!));
  }
  await store.close();
}

await main();
