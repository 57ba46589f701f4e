import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresKv } from "../../src/adapters/kv/postgres/kv.ts";
import { createRedisKv } from "../../src/adapters/kv/redis/kv.ts";
import { createPgStore } from "../../src/adapters/store/pg/store.ts";
import { createPgliteStore } from "../../src/adapters/store/pglite/store.ts";
import { loadConfig } from "../../src/core/config.ts";
import { SluiceError } from "../../src/core/errors.ts";
import type { Kv } from "../../src/ports/kv.ts";
import type { Store } from "../../src/ports/store.ts";
import { createMemoryLimitCounters } from "../../src/adapters/limits/memory/counters.ts";
import { createIdempotency, createIntake, idempotencyKey } from "../../src/pipeline/intake/index.ts";
import { migrate } from "../../src/pipeline/migrator.ts";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";
import { testPgliteDataDir } from "../harness/pglite-template.ts";

interface Target {
  name: string;
  open: () => Promise<{ store: Store; kv: Kv; cleanup(): Promise<void> }>;
}

async function pgStore(): Promise<Store> {
  const store = createPgStore({ connectionString: await freshPostgresDatabase("intake_idem"), poolSize: 10 });
  await migrate(store, { requireVector: false });
  return store;
}

const targets: Target[] = [
  {
    name: "Redis",
    open: async () => {
      const store = await pgStore();
      const kv = createRedisKv({ url: redisUrl(0) });
      return { store, kv, cleanup: async () => (await kv.close(), await store.close()) };
    },
  },
  {
    name: "PostgreSQL server",
    open: async () => {
      const store = await pgStore();
      return { store, kv: createPostgresKv({ store }), cleanup: () => store.close() };
    },
  },
  {
    name: "PGlite",
    open: async () => {
      const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
      await migrate(store);
      return { store, kv: createPostgresKv({ store }), cleanup: () => store.close() };
    },
  },
];

// The shared Redis is used by other test files: every workspace here is unique to this run.
const run = `${process.pid}-${Date.now().toString(36)}`;

describe.each(targets)("idempotent intake record on $name", ({ open }) => {
  let handle: Awaited<ReturnType<Target["open"]>>;
  beforeAll(async () => {
    handle = await open();
  });
  afterAll(async () => {
    await handle.kv.deleteByPattern(`ai:idempotency:idem-${run}-*`);
    await handle.cleanup();
  });

  it("100 concurrent claims of one id in one workspace create one job; all see its id", async () => {
    const idem = createIdempotency({ kv: handle.kv, ttlSeconds: 86_400 });
    const ws = `idem-${run}-a`;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => idem.claim(ws, "req-456", `job-${i}`)));
    const created = results.filter((r) => r.created);
    expect(created).toHaveLength(1);
    const winner = created[0]!.jobId;
    expect(results.every((r) => r.jobId === winner)).toBe(true);
    expect(await idem.lookup(ws, "req-456")).toBe(winner);
    // Later repeats, too.
    expect(await idem.claim(ws, "req-456", "job-late")).toEqual({ created: false, jobId: winner, confirmed: false });
    expect(await idem.confirm(ws, "req-456", winner)).toBe(true);
    expect(await idem.claim(ws, "req-456", "job-later")).toEqual({ created: false, jobId: winner, confirmed: true });
  });

  it("the same id in another workspace is independent", async () => {
    const idem = createIdempotency({ kv: handle.kv });
    const [a, b] = [`idem-${run}-iso-a`, `idem-${run}-iso-b`];
    expect(await idem.claim(a, "same", "job-a")).toEqual({ created: true, jobId: "job-a" });
    expect(await idem.claim(b, "same", "job-b")).toEqual({ created: true, jobId: "job-b" });
    expect(await idem.claim(a, "same", "job-x")).toEqual({ created: false, jobId: "job-a", confirmed: false });
    expect(await idem.claim(b, "same", "job-y")).toEqual({ created: false, jobId: "job-b", confirmed: false });
  });

  it("takes its TTL from IDEMPOTENCY_TTL_SECONDS and shows it on inspection", async () => {
    const intake = createIntake({
      limits: createMemoryLimitCounters(),
      ...handle,
      config: loadConfig({ IDEMPOTENCY_TTL_SECONDS: "3600" }),
    });
    const ws = `idem-${run}-ttl`;
    await intake.claim(ws, "r1", "job-1");
    const record = await intake.inspectClaim(ws, "r1");
    expect(record).toMatchObject({ key: `ai:idempotency:${ws}:r1`, jobId: "job-1", confirmed: false });
    expect(record!.ttlSeconds).toBeGreaterThan(3_590);
    expect(record!.ttlSeconds).toBeLessThanOrEqual(3_600);
    expect(await intake.inspectClaim(ws, "never")).toBeNull();
  });

  it("a claim stays pending until its own job is confirmed, and keeps its TTL when confirmed", async () => {
    const idem = createIdempotency({ kv: handle.kv, ttlSeconds: 3_600 });
    const ws = `idem-${run}-confirm`;
    await idem.claim(ws, "r", "job-1");
    expect(await idem.confirm(ws, "r", "job-other")).toBe(false);
    expect(await idem.inspect(ws, "r")).toMatchObject({ jobId: "job-1", confirmed: false });
    expect(await idem.confirm(ws, "r", "job-1")).toBe(true);
    expect(await idem.confirm(ws, "r", "job-1")).toBe(false);
    const record = await idem.inspect(ws, "r");
    expect(record).toMatchObject({ jobId: "job-1", confirmed: true });
    expect(record!.ttlSeconds).toBeGreaterThan(3_590);
    expect(record!.ttlSeconds).toBeLessThanOrEqual(3_600);
    expect(await idem.lookup(ws, "r")).toBe("job-1");
    expect(await idem.confirm(ws, "never-claimed", "job-1")).toBe(false);
    expect(await idem.lookup(ws, "never-claimed")).toBeNull();
  });

  it("rejects ids that would make ambiguous keys", async () => {
    const idem = createIdempotency({ kv: handle.kv });
    const code = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (e: unknown) => (e as SluiceError).code,
      );
    expect(await code(idem.claim("ws:1", "r", "j"))).toBe("VALIDATION_FAILED");
    expect(await code(idem.claim(`idem-${run}`, "", "j"))).toBe("VALIDATION_FAILED");
    expect(await code(idem.claim(`idem-${run}`, "a\nb", "j"))).toBe("VALIDATION_FAILED");
    expect(await code(idem.claim(`idem-${run}`, "x".repeat(256), "j"))).toBe("VALIDATION_FAILED");
    expect(await code(idem.claim(`idem-${run}`, "r", ""))).toBe("VALIDATION_FAILED");
    expect(await code(idem.claim(`idem-${run}`, "r", "pending:j"))).toBe("VALIDATION_FAILED");
    // Colons are fine inside the client's id: the workspace cannot contain one.
    expect(await code(idem.claim(`idem-${run}-colon`, "order:42", "j"))).toBe("ok");
  });
});

describe("runbook 001: Duplicate job execution despite idempotency", () => {
  let redis: RunningServer;
  beforeAll(async () => {
    // A private server: the runbook's exact key (ws-123, req-456) must not collide with other files.
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it("redis-cli TTL ai:idempotency:ws-123:req-456 shows the 24 h record set by SET NX", async () => {
    const kv = createRedisKv({ url: redis.url });
    const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
    try {
      await migrate(store);
      const intake = createIntake({ limits: createMemoryLimitCounters(), store, kv, config: loadConfig({ REDIS_URL: redis.url }) });
      const jobId = randomUUID();
      expect(await intake.claim("ws-123", "req-456", jobId)).toEqual({ created: true, jobId });
      expect(idempotencyKey("ws-123", "req-456")).toBe("ai:idempotency:ws-123:req-456");
      const raw = new Redis(redis.url);
      try {
        // Pending until the job is queued, then the job id, as docs/intake.md shows it.
        expect(await raw.get("ai:idempotency:ws-123:req-456")).toBe(`pending:${jobId}`);
        expect(await intake.confirmClaim("ws-123", "req-456", jobId)).toBe(true);
        const ttl = await raw.ttl("ai:idempotency:ws-123:req-456");
        expect(ttl).toBeGreaterThan(86_300);
        expect(ttl).toBeLessThanOrEqual(86_400);
        expect(await raw.get("ai:idempotency:ws-123:req-456")).toBe(jobId);
      } finally {
        raw.disconnect();
      }
      // The runbook's own command, verbatim but for the URL.
      const out = execFileSync("redis-cli", ["-u", redis.url, "TTL", "ai:idempotency:ws-123:req-456"], { encoding: "utf8" }).trim();
      expect(Number(out)).toBeGreaterThan(86_300);
      expect(Number(out)).toBeLessThanOrEqual(86_400);
    } finally {
      await kv.close();
      await store.close();
    }
  });

  it("without Redis, the documented SQL shows the same record in kv_entries", async () => {
    const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
    try {
      await migrate(store);
      const intake = createIntake({ limits: createMemoryLimitCounters(), store, kv: createPostgresKv({ store }), config: loadConfig({}) });
      await intake.claim("ws-123", "req-456", "job-1");
      await intake.confirmClaim("ws-123", "req-456", "job-1");
      // Keep in step with docs/intake.md.
      const { rows } = await store.query<{ key: string; job_id: string; ttl_seconds: number }>(
        `SELECT key, value AS job_id, expires_at,
                round(extract(epoch FROM expires_at - now()))::int AS ttl_seconds
         FROM kv_entries WHERE key = 'ai:idempotency:ws-123:req-456' AND expires_at > now()`,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ key: "ai:idempotency:ws-123:req-456", job_id: "job-1" });
      expect(rows[0]!.ttl_seconds).toBeGreaterThan(86_300);
      expect(rows[0]!.ttl_seconds).toBeLessThanOrEqual(86_400);
    } finally {
      await store.close();
    }
  });
});
