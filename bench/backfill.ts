/**
 * Backfill throughput on embedded PGlite with the local provider (hashed n-gram embeddings, 384
 * dimensions, HNSW index in place), Sluice vs the bare loop underneath, same run, each on a fresh
 * database in its own data folder:
 *  - sluice: items ingested with `sluice.embeddings.upsert`, then the backfill worker on
 *    ai-batch-queue (BullMQ on PGlite, kill-switch checks, provider runtime with limits/retries/
 *    breaker, claims, binary vector writes) drains them; timed from the worker's start to the last
 *    `completed` item;
 *  - bare: `embedNextChunk` in a loop calling the local provider directly (no queue, no runtime).
 *
 *   npx tsx bench/backfill.ts [--items 20000] [--chunk 100] [--concurrency 2] [--workspaces 4]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLocalProvider } from "../src/adapters/provider/local/provider.ts";
import { createPgliteStore } from "../src/adapters/store/pglite/store.ts";
import * as E from "../src/pipeline/embeddings/sql/index.ts";
import { embedNextChunk } from "../src/pipeline/embeddings/embed-chunk.ts";
import { migrate } from "../src/pipeline/migrator.ts";
import { createSluice } from "../src/sluice.ts";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "20000" },
    chunk: { type: "string", default: "100" },
    concurrency: { type: "string", default: "2" },
    workspaces: { type: "string", default: "4" },
  },
});
const N = Number(values.items);
const CHUNK = Number(values.chunk);
const CONCURRENCY = Number(values.concurrency);
const WS = Number(values.workspaces);
const INGEST_CHUNK = 5_000;

const rate = (count: number, ms: number) => Math.round((count / ms) * 1000).toLocaleString("en-US");
const load = () => `(load avg ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cpus)`;
const workspaces = Array.from({ length: WS }, (_, i) => `bench-${i}`);

function items(n: number, from: number): E.ItemInput[] {
  return Array.from({ length: n }, (_, i) => ({
    externalId: `sku-${from + i}`,
    text: `Product ${from + i}: a sturdy thing in colour ${(from + i) % 17}, size ${(from + i) % 5}, for everyday use.`,
    metadata: { category: `c${(from + i) % 40}` },
  }));
}

/** Spreads N items over the workspaces in ingest-sized calls. */
async function ingest(upsert: (ws: string, batch: E.ItemInput[]) => Promise<unknown>): Promise<void> {
  const per = Math.ceil(N / WS);
  for (const [w, ws] of workspaces.entries()) {
    const end = Math.min(N, (w + 1) * per);
    for (let i = w * per; i < end; i += INGEST_CHUNK) await upsert(ws, items(Math.min(INGEST_CHUNK, end - i), i));
  }
}

async function bare(dir: string): Promise<number> {
  const store = await createPgliteStore({ dataDir: join(dir, "bare") });
  await migrate(store);
  await store.query("INSERT INTO workspaces (id, name) SELECT w, w FROM unnest($1::text[]) AS w", [workspaces]);
  await ingest((ws, batch) => E.upsertItems(store, ws, batch, { maxItems: INGEST_CHUNK }));
  const provider = createLocalProvider({ dimensions: 384 });
  const started = performance.now();
  for (;;) {
    const step = await embedNextChunk(store, {
      workerId: "bench",
      limit: CHUNK,
      model: "local",
      dimensions: 384,
      embed: async (texts) => (await provider.embed({ model: "local", inputs: texts, dimensions: 384 })).vectors,
    });
    if (step.claimed === 0) break;
  }
  const ms = performance.now() - started;
  await store.close();
  return ms;
}

async function sluice(dir: string): Promise<number> {
  const s = await createSluice({
    env: {
      SLUICE_DATA_DIR: join(dir, "sluice"),
      LOG_LEVEL: "warn",
      EMBEDDING_BACKFILL_CHUNK_SIZE: String(CHUNK),
      EMBEDDING_BACKFILL_CONCURRENCY: String(CONCURRENCY),
    },
  });
  for (const ws of workspaces) await s.intake.ensureWorkspace(ws, ws);
  await ingest((ws, batch) => E.upsertItems(s.store, ws, batch, { maxItems: INGEST_CHUNK }));
  const started = performance.now();
  await s.startWorkers();
  for (;;) {
    const { rows } = await s.store.query<{ n: number }>("SELECT count(*) AS n FROM shop_product_embeddings WHERE status <> 'completed'");
    if (rows[0]?.n === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const ms = performance.now() - started;
  await s.close();
  return ms;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-backfill-"));
  try {
    const bareMs = await bare(dir);
    const sluiceMs = await sluice(dir);
    console.log(
      `backfill pglite local-provider items=${N} dims=384 chunk=${CHUNK} workspaces=${WS} (HNSW index in place): ` +
        `sluice worker on ai-batch-queue ${rate(N, sluiceMs)} items/s (concurrency ${CONCURRENCY}) | bare embedNextChunk loop ${rate(N, bareMs)} items/s ${load()}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
