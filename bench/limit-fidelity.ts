/**
 * Limit fidelity: 2,000 `llm.complete` jobs through the real job path (BullMQ on Redis, task
 * workers, provider runtime) from TWO worker processes sharing one Redis, against the fake
 * provider enforcing N requests/min and M tokens/min itself (a continuously refilling bucket
 * holding two of Sluice's counting windows, so a client that bursts above the limit gets 429s).
 * Sluice is configured with the same N and M. One line: achieved rate against the limit (target
 * >= 95 %) and the 429s the provider had to send (target 0).
 *
 *   npx tsx bench/limit-fidelity.ts [--jobs 2000] [--rpm 6000] [--tpm 240000] [--window 1] [--concurrency 32] [--control]
 *
 * `--control` runs the same jobs with Sluice's limits off: the provider then sends 429s, which
 * shows the zero of a normal run is Sluice's doing.
 *
 * Always starts its own redis-server (Debian's) on a free port; each process keeps its store in
 * an embedded PGlite folder of its own. At the defaults it runs for about 20 s.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createSluice } from "../src/sluice.ts";
import { startFakeProviderServer } from "../tests/fakes/openai-server.ts";
import { spawnTracked, stopTracked } from "../tests/harness/processes.ts";
import { startRedis } from "../tests/harness/servers.ts";

const { values } = parseArgs({
  options: {
    worker: { type: "boolean", default: false },
    jobs: { type: "string", default: "2000" },
    rpm: { type: "string", default: "6000" },
    tpm: { type: "string", default: "240000" },
    window: { type: "string", default: "1" },
    concurrency: { type: "string", default: "32" },
    /** Control run: Sluice enforces no limit, to show the provider's bucket does send 429s. */
    control: { type: "boolean", default: false },
  },
});
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A worker process: a whole Sluice on the shared Redis, running task workers until SIGTERM. */
async function worker(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-bench-worker-"));
  const sluice = await createSluice({ env: { ...process.env, SLUICE_DATA_DIR: dataDir } });
  await sluice.startWorkers();
  process.stdout.write("ready\n");
  await new Promise<void>((resolve) => process.once("SIGTERM", () => resolve()));
  await sluice.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}

function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  // Tracked: killed with this process's servers however the run ends (tests/harness/processes.ts).
  const child = spawnTracked(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--worker"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`worker exited early (${code})`)));
  });
}

async function main(): Promise<void> {
  const jobs = Number(values.jobs);
  const rpm = Number(values.rpm);
  const tpm = Number(values.tpm);
  const windowSeconds = Number(values.window);
  const redis = await startRedis();
  const fake = await startFakeProviderServer();
  // Bucket = two of Sluice's windows: the most a client that never exceeds L per window can send at once.
  fake.setLimits({ rpm, tpm, burst: (2 * windowSeconds) / 60 });
  const env = {
    REDIS_URL: redis.url,
    AI_PROVIDER: "openai",
    OPENAI_BASE_URL: fake.openaiBaseUrl,
    OPENAI_API_KEY: "sk-bench",
    AI_RPM_LIMIT: values.control ? "0" : String(rpm),
    AI_TPM_LIMIT: values.control ? "0" : String(tpm),
    AI_LIMIT_WINDOW_SECONDS: String(windowSeconds),
    QUEUE_CONCURRENCY: values.concurrency,
    CACHE_ENABLED: "false",
    LOG_LEVEL: "warn",
  };
  const workers = await Promise.all([startWorker(env), startWorker(env)]);
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-bench-producer-"));
  const producer = await createSluice({ env: { ...env, SLUICE_DATA_DIR: dataDir } });
  try {
    const started = Date.now();
    for (let i = 0; i < jobs; i += 500) {
      const chunk = Array.from({ length: Math.min(500, jobs - i) }, (_, k) => ({
        name: "llm.complete",
        data: {
          workspace: "bench",
          type: "llm.complete",
          input: { prompt: `Job ${i + k}: classify the sentiment of this short review.`, max_output_tokens: 16 },
          client_request_id: `bench-${i + k}`,
          submitted_by: "bench",
        },
      }));
      await producer.queues.addBulk("ai-jobs", chunk);
    }
    const deadline = started + 10 * 60_000;
    for (;;) {
      const counts = await producer.queues.counts("ai-jobs");
      // Completed jobs are trimmed by the queue's retention, so "done" is: nothing left to run.
      if (counts.waiting + counts.active + counts.delayed === 0 || Date.now() > deadline) break;
      await sleep(200);
    }
    const counts = await producer.queues.counts("ai-jobs");
    const ok = fake.stats.log
      .filter((r) => r.route === "chat" && r.status === 200)
      .map((r) => r.at)
      .sort((a, b) => a - b);
    const span = ((ok.at(-1) ?? 0) - (ok[0] ?? 0)) / 1000;
    // Any bucket lets the first window's quota through at once; the rate is measured after it.
    const firstWindow = Math.floor((rpm * windowSeconds) / 60);
    const achievedRpm = span > 0 ? ((ok.length - firstWindow) / span) * 60 : 0;
    const tokensPerMin = span > 0 ? ((fake.stats.inputTokens + fake.stats.outputTokens) / (span + windowSeconds)) * 60 : 0;
    console.log(
      `limit-fidelity${values.control ? " (control: Sluice limits off)" : ""}: jobs=${jobs} answered=${ok.length} failed=${counts.failed} workers=2 | limit ${rpm} RPM / ${tpm} TPM, window ${windowSeconds}s | achieved ${Math.round(achievedRpm)} RPM = ${((achievedRpm / rpm) * 100).toFixed(1)}% of limit (target >= 95%), ~${Math.round(tokensPerMin)} TPM = ${((tokensPerMin / tpm) * 100).toFixed(1)}% | provider 429s=${fake.stats.rateLimited} (target 0) | ${span.toFixed(1)}s | node ${process.version}, ${availableParallelism()} cpu`,
    );
  } finally {
    await producer.close();
    await Promise.all(workers.map((w) => stopTracked(w)));
    await fake.close();
    await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (values.worker) await worker();
else await main();
