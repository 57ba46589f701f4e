import { randomUUID } from "node:crypto";
import type { Sluice } from "../../sluice.ts";
import { createSluiceClient, type SluiceClient, type SluiceErrorBody } from "../../client/index.ts";
import { ApiError } from "../client.ts";
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

/** The body of a 2xx answer as `T` (the OpenAPI document declares no response bodies yet); a 4xx/5xx throws ApiError like the CLI's client. */
async function body<T>(answer: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await answer;
  if (!response.ok) {
    const detail = (error as Partial<SluiceErrorBody> | undefined)?.error;
    throw new ApiError(response.status, detail?.code ?? "HTTP_ERROR", detail?.message ?? `HTTP ${response.status}`);
  }
  return data as T;
}

async function waitForJobs(client: SluiceClient, ids: string[], timeoutMs: number): Promise<JobView[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await Promise.all(ids.map((id) => body<JobView>(client.GET("/ai/jobs/{id}", { params: { path: { id } } }))));
    if (jobs.every((j) => j.status === "completed" || j.status === "failed") || Date.now() > deadline) return jobs;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The main job, end to end over the real HTTP API of the server just started: sentiment jobs go in
 * through POST /ai/jobs (idempotent), workers run them on the queue through the provider runtime,
 * and the results come back from GET /ai/jobs/{id}.
 */
export async function runDemo(
  sluice: Pick<Sluice, "config">,
  url: string,
  apiKey: string,
  say: (line: string) => void = console.log,
): Promise<void> {
  // The demo is also an example of Sluice's TypeScript SDK (sluice/client).
  const client = createSluiceClient({ url, apiKey });
  say(`\nDemo: classifying ${REVIEWS.length} reviews through POST /ai/jobs (queue ai-jobs, provider ${sluice.config.ai.provider}) ...`);
  const submitted = await Promise.all(
    REVIEWS.map((text) =>
      body<{ id: string }>(
        client.POST("/ai/jobs", { body: { type: "classify", input: { text }, client_request_id: `demo-${randomUUID()}` } }),
      ),
    ),
  );
  const jobs = await waitForJobs(
    client,
    submitted.map((s) => s.id),
    30_000,
  );
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
async function searchDemo(client: SluiceClient, dimensions: number, say: (line: string) => void): Promise<void> {
  say(
    `\nDemo: ${CATALOGUE.length} products into workspace "dev" (PUT /api/workspaces/dev/items); the backfill embeds them (${dimensions} dims) ...`,
  );
  const ws = { ws: "dev" };
  await body(
    client.PUT("/api/workspaces/{ws}/items", {
      params: { path: ws },
      body: { items: CATALOGUE.map(([id, text]) => ({ id, text, metadata: { demo: true } })) },
    }),
  );
  const deadline = Date.now() + 60_000;
  let statuses: string[] = [];
  while (Date.now() < deadline) {
    statuses = await Promise.all(
      CATALOGUE.map(
        async ([id]) =>
          (await body<{ status: string }>(client.GET("/api/workspaces/{ws}/items/{id}", { params: { path: { ...ws, id } } }))).status,
      ),
    );
    if (statuses.every((s) => s === "completed" || s === "failed")) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  say(`Embedded: ${statuses.filter((s) => s === "completed").length} of ${CATALOGUE.length}.`);
  const query = "shoes for running";
  const found = await body<{ hits: Array<{ id: string; score: number }>; took_ms: number }>(
    client.POST("/api/workspaces/{ws}/search", { params: { path: ws }, body: { query, k: 3 } }),
  );
  const text = new Map(CATALOGUE);
  say(`Search "${query}" (k=3, ${found.took_ms} ms):`);
  say(
    table(
      found.hits.map((h) => ({ id: h.id, score: h.score.toFixed(3), text: text.get(h.id) ?? "" })),
      ["id", "score", "text"],
    ),
  );
}
