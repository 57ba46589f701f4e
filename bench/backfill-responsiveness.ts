/**
 * API latency while the embeddings backfill writes, on embedded PGlite (the `sluice dev` setup:
 * store, BullMQ and the backfill share one PGlite instance), with the local provider (384
 * dimensions, HNSW index in place).
 *
 * A child process runs Sluice (API + workers) on a temp folder with N items already ingested; this
 * process then starts the backfill and, until the last item is `completed`, sends GET /metrics,
 * GET /ready, POST /ai/jobs and GET /health on a fixed schedule (every --every ms each, without
 * waiting for the previous answer, so a stall is counted for every request caught in it; about what
 * a Prometheus scrape, a load balancer's readiness probe and a steady client send). One line:
 * p50/p99 per endpoint and the backfill rate (comparable with bench/backfill.ts).
 *
 *   npx tsx bench/backfill-responsiveness.ts [--items 20000] [--chunk 100] [--concurrency 2] [--workspaces 4] [--every 1000]
 *
 * The child runs in its own process group, killed (SIGKILL) on the way out, failure included; it
 * also exits by itself when this process goes away (its stdin closes).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "20000" },
    chunk: { type: "string", default: "100" },
    concurrency: { type: "string", default: "2" },
    workspaces: { type: "string", default: "4" },
    every: { type: "string", default: "1000" },
    serve: { type: "string" },
  },
});
const N = Number(values.items);
const CHUNK = Number(values.chunk);
const CONCURRENCY = Number(values.concurrency);
const WS = Number(values.workspaces);
const EVERY_MS = Number(values.every);
const INGEST_CHUNK = 5_000;
const workspaces = Array.from({ length: WS }, (_, i) => `bench-${i}`);

type Message = { ready: { url: string; key: string } } | { done: { ms: number; loopDelayP99Ms: number; loopDelayMaxMs: number } };

function send(message: Message): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** The child: Sluice with N items ingested, listening; starts its workers on "start" from stdin. */
async function serveChild(dataDir: string): Promise<void> {
  const [{ createSluice }, { buildServer }, E] = await Promise.all([
    import("../src/sluice.ts"),
    import("../src/server/app.ts"),
    import("../src/pipeline/embeddings/sql/index.ts"),
  ]);
  const sluice = await createSluice({
    // The intake limit (100/min per key) would answer the probe's jobs 429: latency is measured here, not the limiter.
    env: {
      SLUICE_DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      RATE_LIMIT_PER_MINUTE: "1000000",
      EMBEDDING_BACKFILL_CHUNK_SIZE: String(CHUNK),
      EMBEDDING_BACKFILL_CONCURRENCY: String(CONCURRENCY),
    },
  });
  for (const ws of workspaces) await sluice.intake.ensureWorkspace(ws, ws);
  const per = Math.ceil(N / WS);
  for (const [w, ws] of workspaces.entries()) {
    for (let i = w * per; i < Math.min(N, (w + 1) * per); i += INGEST_CHUNK) {
      const batch = Array.from({ length: Math.min(INGEST_CHUNK, Math.min(N, (w + 1) * per) - i) }, (_, j) => ({
        externalId: `sku-${i + j}`,
        text: `Product ${i + j}: a sturdy thing in colour ${(i + j) % 17}, size ${(i + j) % 5}, for everyday use.`,
        metadata: { category: `c${(i + j) % 40}` },
      }));
      await E.upsertItems(sluice.store, ws, batch, { maxItems: INGEST_CHUNK });
    }
  }
  const { secret } = await sluice.intake.createApiKey({
    workspaceId: workspaces[0]!,
    scopes: ["admin", "jobs:read", "jobs:write"],
    name: "bench",
  });
  const app = await buildServer(sluice);
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  send({ ready: { url, key: secret } });
  const lines = createInterface({ input: process.stdin });
  lines.on("close", () => process.exit(0));
  await new Promise<void>((resolve) => lines.once("line", () => resolve()));
  const started = performance.now();
  // How long the server's event loop was blocked at a time: what every request waits for first.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  await sluice.startWorkers();
  for (;;) {
    const { rows } = await sluice.store.query<{ n: number }>(
      "SELECT count(*) AS n FROM shop_product_embeddings WHERE status <> 'completed'",
    );
    if (rows[0]?.n === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  loopDelay.disable();
  send({ done: { ms: performance.now() - started, loopDelayP99Ms: loopDelay.percentile(99) / 1e6, loopDelayMaxMs: loopDelay.max / 1e6 } });
}

interface Probe {
  name: string;
  request: (base: string, key: string) => Promise<Response>;
  latencies: number[];
  failures: number;
}

const probes: Probe[] = [
  { name: "GET /metrics", request: (base) => fetch(`${base}/metrics`), latencies: [], failures: 0 },
  { name: "GET /ready", request: (base) => fetch(`${base}/ready`), latencies: [], failures: 0 },
  {
    name: "POST /ai/jobs",
    request: (base, key) =>
      fetch(`${base}/ai/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ type: "classify", input: { text: "great product" }, client_request_id: randomUUID() }),
      }),
    latencies: [],
    failures: 0,
  },
  { name: "GET /health", request: (base) => fetch(`${base}/health`), latencies: [], failures: 0 },
];

async function probeOnce(probe: Probe, base: string, key: string): Promise<void> {
  const started = performance.now();
  try {
    const response = await probe.request(base, key);
    await response.arrayBuffer();
    if (response.status >= 400) probe.failures += 1;
  } catch {
    probe.failures += 1;
  }
  probe.latencies.push(performance.now() - started);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function summary(probe: Probe): string {
  const sorted = [...probe.latencies].sort((a, b) => a - b);
  const failed = probe.failures > 0 ? ` failed=${probe.failures}` : "";
  return `${probe.name} p50=${percentile(sorted, 50).toFixed(0)}ms p99=${percentile(sorted, 99).toFixed(0)}ms max=${(sorted.at(-1) ?? NaN).toFixed(0)}ms n=${sorted.length}${failed}`;
}

function startChild(dataDir: string): { child: ChildProcess; next: () => Promise<Message> } {
  const self = fileURLToPath(import.meta.url);
  const args = [
    "--import",
    "tsx",
    self,
    "--serve",
    dataDir,
    "--items",
    String(N),
    "--chunk",
    String(CHUNK),
    "--concurrency",
    String(CONCURRENCY),
    "--workspaces",
    String(WS),
  ];
  const child = spawn(process.execPath, args, { detached: true, stdio: ["pipe", "pipe", "inherit"] });
  const queue: Message[] = [];
  const waiting: Array<(m: Message) => void> = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (!line.startsWith("{")) return;
    const message = JSON.parse(line) as Message;
    const resolve = waiting.shift();
    if (resolve) resolve(message);
    else queue.push(message);
  });
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`server process exited (${code})`))));
  exited.catch(() => undefined);
  const next = () => {
    const queued = queue.shift();
    return queued ? Promise.resolve(queued) : Promise.race([new Promise<Message>((resolve) => waiting.push(resolve)), exited]);
  };
  return { child, next };
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-responsive-"));
  const { child, next } = startChild(join(dir, "data"));
  const kill = () => killGroup(child);
  process.once("exit", kill);
  try {
    const ready = await next();
    if (!("ready" in ready)) throw new Error("server did not report ready");
    const { url, key } = ready.ready;
    child.stdin!.write("start\n");
    const inFlight = new Set<Promise<void>>();
    const timer = setInterval(() => {
      for (const probe of probes) {
        const p = probeOnce(probe, url, key).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    }, EVERY_MS);
    const done = await next().finally(() => clearInterval(timer));
    await Promise.all(inFlight);
    if (!("done" in done)) throw new Error("server did not report the end of the backfill");
    const rate = Math.round((N / done.done.ms) * 1000);
    console.log(
      `backfill-responsiveness pglite local-provider items=${N} dims=384 chunk=${CHUNK} concurrency=${CONCURRENCY} workspaces=${WS} every=${EVERY_MS}ms: ` +
        `backfill ${rate.toLocaleString("en-US")} items/s | ${probes.map(summary).join(" | ")} | server event-loop delay p99=${done.done.loopDelayP99Ms.toFixed(0)}ms max=${done.done.loopDelayMaxMs.toFixed(0)}ms (load avg ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cpus)`,
    );
  } finally {
    kill();
    process.off("exit", kill);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.serve !== undefined) {
  // A failure in the child is printed and ends it; the parent sees the exit.
  await serveChild(values.serve).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  await main();
}
