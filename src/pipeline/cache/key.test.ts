import { describe, expect, it } from "vitest";
import { createMemoryCacheEngine } from "../../adapters/cache/memory/engine.ts";
import { cacheKey, canonicalJson } from "./key.ts";

describe("cache keys", () => {
  it("canonical JSON sorts keys at every depth and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });

  it("equal requests share a key whatever their key order; any difference in input, params or route changes it", () => {
    const base = { task: "classify", provider: "openai", model: "gpt-4o-mini", input: { text: "hi", labels: ["a", "b"] } };
    const key = cacheKey(base);
    expect(key).toMatch(/^classify:openai:gpt-4o-mini:[0-9a-f]{64}$/);
    expect(cacheKey({ ...base, input: { labels: ["a", "b"], text: "hi" } })).toBe(key);
    expect(cacheKey({ ...base, input: { text: "hi", labels: ["b", "a"] } })).not.toBe(key);
    expect(cacheKey({ ...base, params: { temperature: 0 } })).not.toBe(key);
    expect(cacheKey({ ...base, model: "gpt-4o" })).not.toBe(key);
  });

  it("readable parts cannot smuggle glob characters or separators", () => {
    expect(cacheKey({ task: "t", provider: "a:b*", model: "m?[x]", input: 1 })).toMatch(/^t:a_b_:m__x_:/);
  });
});

describe("in-process engine", () => {
  it("clears and counts by Redis glob, and honours TTLs", async () => {
    const engine = createMemoryCacheEngine({ maxEntries: 10 });
    await engine.set("embed:openai:m:1", "x", 60);
    await engine.set("classify:openai:m:2", "y", 60);
    await engine.set("classify:local:m:3", "z", 60);
    expect(await engine.count("classify:*")).toBe(2);
    expect(await engine.clear("*:openai:*")).toBe(2);
    expect(await engine.count("*")).toBe(1);
    await engine.set("short", "v", 0.001);
    await new Promise((r) => setTimeout(r, 20));
    expect(await engine.get("short")).toBeNull();
  });
});
