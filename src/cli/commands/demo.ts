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
export async function runDemo(sluice: Sluice, url: string, apiKey: string): Promise<void> {
  const client = createClient({ url, apiKey });
  console.log(`\nDemo: classifying ${REVIEWS.length} reviews through POST /ai/jobs (queue ai-jobs, provider ${sluice.config.ai.provider}) ...`);
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
  console.log(table(rows, ["review", "status", "label", "fallback"]));
}
