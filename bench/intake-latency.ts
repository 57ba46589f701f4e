/**
 * POST /ai/jobs latency under a fixed request rate (autocannon on loopback, bounded), on the
 * Redis backend, next to the engine underneath in the same run: a bare Fastify route that only
 * does BullMQ `queue.add` on the same Redis. One line each.
 *
 *   npx tsx bench/intake-latency.ts [--rate 500] [--seconds 15] [--connections 20]
 *
 * Uses REDIS_URL when set, else starts Debian's redis-server on a free port. Sluice's store is
 * embedded PGlite in a temp folder (intake touches only Redis on this path: auth is cached).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { Queue } from "bullmq";
import Fastify from "fastify";
import { Redis } from "ioredis";
import { buildServer } from "../src/server/app.ts";
import { createSluice } from "../src/sluice.ts";
import { startRedis, type RunningServer } from "../tests/harness/servers.ts";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "15" },
    connections: { type: "string", default: "20" },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);

interface Result {
  p50: number;
  p95: number;
  p99: number;
  rps: number;
  errors: number;
  non2xx: number;
}

async function load(url: string, headers: Record<string, string>): Promise<Result> {
  const result = await autocannon({
    url,
    method: "POST",
    connections: CONNECTIONS,
    duration: SECONDS,
    overallRate: RATE,
    headers: { "content-type": "application/json", ...headers },
    requests: [
      {
        setupRequest: (req) => ({
          ...req,
          body: JSON.stringify({ type: "classify", input: { text: "great product" }, client_request_id: randomUUID() }),
        }),
      },
    ],
  });
  // autocannon's latency percentiles: p50, p97_5 and p99 are reported; p95 is not, so use p97_5 as the upper bound... unless present.
  const latency = result.latency as unknown as Record<string, number>;
  return {
    p50: latency.p50 ?? 0,
    p95: latency.p95 ?? latency.p97_5 ?? 0,
    p99: latency.p99 ?? 0,
    rps: result.requests.average,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

function line(name: string, r: Result): string {
  return `intake-latency ${name.padEnd(28)} rate=${RATE}/s conns=${CONNECTIONS} ${SECONDS}s  p50=${r.p50}ms p95=${r.p95}ms p99=${r.p99}ms achieved=${r.rps.toFixed(0)}/s errors=${r.errors} non2xx=${r.non2xx}`;
}

async function main(): Promise<void> {
  let redis: RunningServer | undefined;
  const redisUrl = process.env.REDIS_URL ?? (redis = await startRedis()).url;
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-bench-"));
  const sluice = await createSluice({ env: { REDIS_URL: redisUrl, SLUICE_DATA_DIR: dataDir, LOG_LEVEL: "warn", QUEUE_BACKEND: "redis" } });
  const app = await buildServer(sluice, { role: "api", docs: false });
  const sluiceUrl = await app.listen({ port: 0, host: "127.0.0.1" });
  await sluice.intake.ensureWorkspace("bench", "Bench", { rateLimitPerMinute: 1_000_000 });
  const key = (await sluice.intake.createApiKey({ workspaceId: "bench", scopes: ["jobs:write"] })).secret;

  const bareConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const bareQueue = new Queue("bare-intake", { connection: bareConnection });
  const bare = Fastify();
  bare.post("/ai/jobs", async (request, reply) => {
    const body = request.body as { type: string; input: unknown; client_request_id: string };
    const job = await bareQueue.add(body.type, body, { jobId: randomUUID() });
    return reply.status(202).send({ id: job.id });
  });
  const bareUrl = await bare.listen({ port: 0, host: "127.0.0.1" });

  try {
    // Two rounds, alternating, so warm-up and drift hit both sides; the better round of each is reported.
    const best = (a: Result | undefined, b: Result) => (!a || b.p95 < a.p95 ? b : a);
    let bareResult: Result | undefined;
    let sluiceResult: Result | undefined;
    for (let round = 0; round < 2; round += 1) {
      bareResult = best(bareResult, await load(`${bareUrl}/ai/jobs`, {}));
      sluiceResult = best(sluiceResult, await load(`${sluiceUrl}/ai/jobs`, { authorization: `Bearer ${key}` }));
    }
    if (!bareResult || !sluiceResult) throw new Error("no rounds ran");
    console.log(`# node ${process.version}, ${availableParallelism()} cores; Redis ${redisUrl.replace(/\/\/.*@/, "//")}`);
    console.log(line("bare fastify+bullmq add", bareResult));
    console.log(line("sluice POST /ai/jobs", sluiceResult));
  } finally {
    // autocannon returns with requests still in flight; let them land before closing.
    await new Promise((r) => setTimeout(r, 1_000));
    await bare.close();
    await bareQueue.close();
    // BullMQ leaves a connection it was given open; without this the client retries forever once Redis stops.
    bareConnection.disconnect();
    await app.close();
    await sluice.close();
    rmSync(dataDir, { recursive: true, force: true });
    await redis?.stop();
  }
}

await main();
