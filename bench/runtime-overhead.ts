/**
 * Sluice's own time per provider call: the `openai` client calling the fake provider directly,
 * next to the same call through Sluice's provider runtime (adapter, limiter, breaker, timeout,
 * retry bookkeeping, metrics), in the same run, calls interleaved so drift hits both. The fake
 * answers at once, so the difference is Sluice's overhead. Two runtime set-ups: limits counted
 * in process, and limits counted in Redis (what several worker processes share). One line:
 *
 *   npx tsx bench/runtime-overhead.ts [--calls 2000] [--warmup 300]
 *
 * Uses REDIS_URL when set, else starts Debian's redis-server on a free port.
 */
import { createRedisKv } from "../src/adapters/kv/redis/kv.ts";
import { createRedisLimitCounters } from "../src/adapters/limits/redis/counters.ts";
import { createMemoryLimitCounters } from "../src/adapters/limits/memory/counters.ts";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import OpenAI from "openai";
import { createLogger } from "../src/adapters/log/pino.ts";
import { createPrometheusMetrics } from "../src/adapters/metrics/prometheus.ts";
import { createOpenAIProvider } from "../src/adapters/provider/openai/provider.ts";
import { createProviderRuntime, type ProviderRuntime } from "../src/pipeline/runtime/index.ts";
import { startFakeProviderServer } from "../tests/fakes/openai-server.ts";
import { startRedis, type RunningServer } from "../tests/harness/servers.ts";

const { values } = parseArgs({ options: { calls: { type: "string", default: "2000" }, warmup: { type: "string", default: "300" } } });
const CALLS = Number(values.calls);
const WARMUP = Number(values.warmup);
const MODEL = "gpt-4o-mini";
const PROMPT = "Classify the sentiment: the delivery was quick and the shoes fit well.";

const fake = await startFakeProviderServer();
fake.setResponder(() => "positive");
let redisServer: RunningServer | undefined;
const redisUrl = process.env.REDIS_URL ?? (redisServer = await startRedis()).url;
const redis = new Redis(redisUrl);

function runtime(withRedis: boolean): ProviderRuntime {
  return createProviderRuntime({
    providers: [createOpenAIProvider({ baseURL: fake.openaiBaseUrl, apiKey: "sk-bench" })],
    metrics: createPrometheusMetrics({ processMetrics: false }),
    logger: createLogger({ level: "silent" }),
    defaults: { provider: "openai", model: MODEL, maxOutputTokens: 20, embeddingModel: "text-embedding-3-small" },
    // Limits far above what the run reaches, so every call goes through the limiter's path.
    limits: { default: { rpm: 100_000_000, tpm: 10_000_000_000 }, keyPrefix: `bench:overhead:${Date.now()}` },
    limitCounters: withRedis ? createRedisLimitCounters(redis) : createMemoryLimitCounters(),
    ...(withRedis ? { publishTo: createRedisKv({ client: redis }) } : {}),
  });
}

const direct = new OpenAI({ baseURL: fake.openaiBaseUrl, apiKey: "sk-bench", maxRetries: 0 });
const sides: Record<string, () => Promise<unknown>> = {
  direct: () => direct.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: PROMPT }], max_tokens: 20 }),
  memory: (
    (rt) => () =>
      rt.complete({ prompt: PROMPT })
  )(runtime(false)),
  redis: (
    (rt) => () =>
      rt.complete({ prompt: PROMPT })
  )(runtime(true)),
};
const names = Object.keys(sides);
const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));

async function timed(name: string): Promise<number> {
  const started = performance.now();
  await sides[name]?.();
  return performance.now() - started;
}

for (let i = 0; i < WARMUP + CALLS; i++) {
  // A different order each round, so no side always runs right after another.
  const order = [...names].sort(() => Math.random() - 0.5);
  for (const name of order) {
    const ms = await timed(name);
    if (i >= WARMUP) samples[name]?.push(ms);
  }
}

const pct = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const f = (ms: number): string => `${ms.toFixed(3)}ms`;
const d = { p50: pct(samples.direct ?? [], 50), p99: pct(samples.direct ?? [], 99) };
const side = (name: string, label: string): string => {
  const s = samples[name] ?? [];
  const p50 = pct(s, 50);
  const p99 = pct(s, 99);
  return `sluice(${label}) p50=${f(p50)} p99=${f(p99)} added p50=${f(p50 - d.p50)} p99=${f(p99 - d.p99)}`;
};
console.log(
  `runtime-overhead: n=${CALLS} direct p50=${f(d.p50)} p99=${f(d.p99)} | ${side("memory", "limits in process")} | ${side("redis", "limits in Redis")} | target added p50 < 1ms | node ${process.version}, ${availableParallelism()} cpu`,
);

await fake.close();
redis.disconnect();
await redisServer?.stop();
process.exit(0);
