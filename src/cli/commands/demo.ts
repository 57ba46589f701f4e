import { randomUUID } from "node:crypto";
import type { Sluice } from "../../sluice.ts";
import { createClient } from "../client.ts";
import { table } from "../output.ts";

const REVIEWS = [
  "Great product, arrived fast and works perfectly. Love it!",
  "Terrible experience: the box was broken and support never answered.",
  "It is okay. Does what it says, nothing more.",
  "Excellent quality and a very helpful seller, thank you!",
  "Awful, stopped working after two days. Refund please.",
];

const CATALOGUE: Array<[string, string]> = [
  ["sku-1", "Lightweight trail running shoes with a grippy sole"],
  ["sku-2", "Waterproof hiking boots for rocky mountain trails"],
  ["sku-3", "Cotton t-shirt, relaxed fit, organic dye"],
  ["sku-4", "Road running shoes with extra cushioning for marathons"],
  ["sku-5", "Stainless steel water bottle, keeps drinks cold for 24 hours"],
  ["sku-6", "Merino wool hiking socks, blister free"],
  ["sku-7", "Insulated winter jacket with a down filling"],
  ["sku-8", "Yoga mat with a non-slip surface"],
  ["sku-9", "Running belt for keys and phone during a jog"],
  ["sku-10", "Espresso coffee beans, dark roast"],
];

interface JobView {
  id: string;
  status: string;
  result: { label?: string; fallback?: boolean } | null;
  error: string | null;
}

async function waitForJobs(client: ReturnType<typeof createClient>, ids: string[], timeoutMs: number): Promise<JobView[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await Promise.all(ids.map((id) => client.call<JobView>("GET", `/ai/jobs/${id}`)));
    if (jobs.every((j) => j.status === "completed" || j.status === "failed") || Date.now() > deadline) return jobs;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The main job, end to end over the real HTTP API of the server just started: sentiment jobs go in
 * through POST /ai/jobs (idempotent), workers run them on the queue through the provider runtime,
 * and the results come back from GET /ai/jobs/{id}.
 */
export async function runDemo(sluice: Sluice, url: string, apiKey: string, say: (line: string) => void = console.log): Promise<void> {
  const client = createClient({ url, apiKey });
  say(`\nDemo: classifying ${REVIEWS.length} reviews through POST /ai/jobs (queue ai-jobs, provider ${sluice.config.ai.provider}) ...`);
  const submitted = await Promise.all(
    REVIEWS.map((text) => client.call<{ id: string }>("POST", "/ai/jobs", { type: "classify", input: { text }, client_request_id: `demo-${randomUUID()}` })),
  );
  const jobs = await waitForJobs(client, submitted.map((s) => s.id), 30_000);
  const rows = jobs.map((job, i) => ({
    review: (REVIEWS[i] ?? "").slice(0, 48),
    status: job.status,
    label: job.result?.label ?? job.error ?? "",
    fallback: job.result?.fallback ?? "",
  }));
  say(table(rows, ["review", "status", "label", "fallback"]));
  if (sluice.config.embeddings.vectorSearchEnabled) await searchDemo(client, sluice.config.ai.embeddingDimensions, say);
}

/** Items in, embeddings by the backfill worker on ai-batch-queue, then a vector search. */
async function searchDemo(client: ReturnType<typeof createClient>, dimensions: number, say: (line: string) => void): Promise<void> {
  say(`\nDemo: ${CATALOGUE.length} products into workspace "dev" (PUT /api/workspaces/dev/items); the backfill embeds them (${dimensions} dims) ...`);
  await client.call("PUT", "/api/workspaces/dev/items", { items: CATALOGUE.map(([id, text]) => ({ id, text, metadata: { demo: true } })) });
  const deadline = Date.now() + 60_000;
  let statuses: string[] = [];
  while (Date.now() < deadline) {
    statuses = await Promise.all(CATALOGUE.map(async ([id]) => (await client.call<{ status: string }>("GET", `/api/workspaces/dev/items/${id}`)).status));
    if (statuses.every((s) => s === "completed" || s === "failed")) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  say(`Embedded: ${statuses.filter((s) => s === "completed").length} of ${CATALOGUE.length}.`);
  const query = "shoes for running";
  const found = await client.call<{ hits: Array<{ id: string; score: number }>; took_ms: number }>("POST", "/api/workspaces/dev/search", { query, k: 3 });
  const text = new Map(CATALOGUE);
  say(`Search "${query}" (k=3, ${found.took_ms} ms):`);
  say(table(found.hits.map((h) => ({ id: h.id, score: h.score.toFixed(3), text: text.get(h.id) ?? "" })), ["id", "score", "text"]));
}
