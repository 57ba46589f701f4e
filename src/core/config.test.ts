import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, loadConfig } from "./config.ts";
import { SluiceError } from "./errors.ts";

describe("loadConfig", () => {
  it("gives the runbooks' defaults on an empty environment", () => {
    const config = loadConfig({});
    expect(config.server.port).toBe(3000);
    expect(config.storage.dataDir).toBe("./.sluice");
    expect(config.queue.backend).toBe("pglite");
    expect(config.ai.model).toBe("gpt-4o-mini");
    expect(config.ai.maxOutputTokens).toBe(800);
    expect(config.embeddings.backfillEnabled).toBe(true);
    expect(config.actions.enabled).toBe(false);
    expect(Object.isFrozen(config.server)).toBe(true);
  });

  it("picks the queue backend from what is configured", () => {
    expect(loadConfig({ DATABASE_URL: "postgres://h/db" }).queue.backend).toBe("postgres");
    expect(loadConfig({ DATABASE_URL: "postgres://h/db", REDIS_URL: "redis://h:1" }).queue.backend).toBe("redis");
    expect(loadConfig({ REDIS_URL: "redis://h:1", QUEUE_BACKEND: "pglite" }).queue.backend).toBe("pglite");
  });

  it("parses lists and booleans", () => {
    const config = loadConfig({
      ALLOW_ACTIONS_DEFAULT: "gmail.send, outlook.send,task.create",
      ACTIONS_ENABLED: "true",
      OPENAI_EMBEDDING_BACKFILL_ENABLED: "false",
    });
    expect(config.actions.allowDefault).toEqual(["gmail.send", "outlook.send", "task.create"]);
    expect(config.actions.enabled).toBe(true);
    expect(config.embeddings.backfillEnabled).toBe(false);
  });

  it("names every bad variable in one error", () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: "eighty", QUEUE_BACKEND: "kafka", OPENAI_EMBEDDING_BACKFILL_ENABLED: "maybe", DATABASE_URL: "mysql://x" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SluiceError);
    const message = (caught as SluiceError).message;
    for (const name of ["PORT", "QUEUE_BACKEND", "OPENAI_EMBEDDING_BACKFILL_ENABLED", "DATABASE_URL"]) expect(message).toContain(name);
    expect((caught as SluiceError).code).toBe("CONFIG_INVALID");
  });

  it("rejects a backend whose server is not configured", () => {
    expect(() => loadConfig({ QUEUE_BACKEND: "redis" })).toThrow(/REDIS_URL/);
  });

  it("documents every variable in docs/configuration.md", () => {
    const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    for (const name of CONFIG_VARIABLES) expect(doc, name).toContain(`\`${name}\``);
  });
});

describe("per-route lists", () => {
  it("parse AI_ROUTE_LIMITS and AI_PRICES, empty numbers as 0", () => {
    const config = loadConfig({
      AI_ROUTE_LIMITS: "openai/gpt-4o-mini=500:200000, anthropic/claude-3-5-haiku-latest=50:",
      AI_PRICES: "openai/gpt-4o-mini=0.15:0.60",
    });
    expect(config.ai.limits.routes).toEqual({
      "openai/gpt-4o-mini": { rpm: 500, tpm: 200000 },
      "anthropic/claude-3-5-haiku-latest": { rpm: 50, tpm: 0 },
    });
    expect(config.ai.prices["openai/gpt-4o-mini"]).toEqual({ input: 0.15, output: 0.6 });
  });

  it("reject malformed entries, naming the variable", () => {
    expect(() => loadConfig({ AI_ROUTE_LIMITS: "openai=500" })).toThrow(/AI_ROUTE_LIMITS/);
    expect(() => loadConfig({ AI_PRICES: "openai/gpt-4o=cheap" })).toThrow(/AI_PRICES/);
  });
});

describe("queue groups, thresholds and worker queues", () => {
  it("parses QUEUE_GROUPS, QUEUE_THRESHOLDS (with a * default), WORKER_QUEUES and WORKER_CONCURRENCY", () => {
    const { queue } = loadConfig({
      QUEUE_GROUPS: '{"etapa5":["churn","sentiment"]}',
      QUEUE_THRESHOLDS: '{"*":{"failed":5},"churn":{"waiting":20}}',
      WORKER_QUEUES: "churn, sentiment",
      WORKER_CONCURRENCY: "churn=4,sentiment=2",
    });
    expect(queue.groups).toEqual({ etapa5: ["churn", "sentiment"] });
    expect(queue.thresholds).toEqual({ default: { waiting: 100, failed: 5 }, perQueue: { churn: { waiting: 20, failed: 5 } } });
    expect(queue.workerQueues).toEqual(["churn", "sentiment"]);
    expect(queue.workerConcurrency).toEqual({ churn: 4, sentiment: 2 });
    expect(loadConfig({}).queue.thresholds).toEqual({ default: { waiting: 100, failed: 100 }, perQueue: {} });
  });

  it("names the variable and the problem for bad JSON, unknown fields, empty groups and bad concurrency", () => {
    const problems: Array<[Record<string, string>, RegExp]> = [
      [{ QUEUE_GROUPS: "{" }, /QUEUE_GROUPS: expected JSON/],
      [{ QUEUE_GROUPS: '{"etapa5":[]}' }, /QUEUE_GROUPS\.etapa5/],
      [{ QUEUE_GROUPS: '{"etapa5":["bad name"]}' }, /QUEUE_GROUPS\.etapa5\.0: expected a queue name/],
      [{ QUEUE_THRESHOLDS: '{"churn":{"waitin":1}}' }, /QUEUE_THRESHOLDS\.churn/],
      [{ QUEUE_THRESHOLDS: '{"churn":{"waiting":-1}}' }, /QUEUE_THRESHOLDS\.churn\.waiting/],
      [{ WORKER_CONCURRENCY: "churn=0" }, /WORKER_CONCURRENCY: expected queue=N/],
      [{ WORKER_CONCURRENCY: "churn" }, /WORKER_CONCURRENCY/],
    ];
    for (const [env, message] of problems) expect(() => loadConfig(env), JSON.stringify(env)).toThrow(message);
  });
});
