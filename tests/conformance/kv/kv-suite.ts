import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceError } from "../../../src/core/errors.ts";
import { KV_TTL_MISSING, KV_TTL_NONE, type Kv } from "../../../src/ports/kv.ts";

interface KvTargetHandle {
  /** A Kv whose keys live under `prefix` (so tests never see each other's keys). */
  make(prefix: string): Kv;
  /** The same, over a separate connection (another pool or client), as a second process would be. */
  makeOther?(prefix: string): Kv;
  cleanup?(): Promise<void>;
}

export interface KvTarget {
  name: string;
  open(): Promise<KvTargetHandle>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The Kv port's conformance suite: every adapter runs these same tests. */
export function kvConformance(target: KvTarget): void {
  describe(`Kv conformance: ${target.name}`, () => {
    let handle: KvTargetHandle;
    const opened: Kv[] = [];
    let n = 0;
    const fresh = (): Kv => {
      n += 1;
      const kv = handle.make(`kvc-${process.pid}-${n}:`);
      opened.push(kv);
      return kv;
    };

    beforeAll(async () => {
      handle = await target.open();
    });
    afterAll(async () => {
      for (const kv of opened) {
        await kv.deleteByPattern("*").catch(() => undefined);
        await kv.close();
      }
      await handle.cleanup?.();
    });

    it("gets null for a missing key and round-trips values", async () => {
      const kv = fresh();
      expect(await kv.get("missing")).toBeNull();
      await kv.set("a", "héllo \u{1F30A} \n tab\t");
      expect(await kv.get("a")).toBe("héllo \u{1F30A} \n tab\t");
      await kv.set("a", "");
      expect(await kv.get("a")).toBe("");
    });

    it("reports TTLs like Redis: -2 missing, -1 forever, seconds left otherwise", async () => {
      const kv = fresh();
      expect(await kv.ttl("nope")).toBe(KV_TTL_MISSING);
      await kv.set("forever", "x");
      expect(await kv.ttl("forever")).toBe(KV_TTL_NONE);
      await kv.set("timed", "x", { ttlSeconds: 100 });
      const ttl = await kv.ttl("timed");
      expect(ttl).toBeGreaterThanOrEqual(99);
      expect(ttl).toBeLessThanOrEqual(100);
      // A plain set replaces the TTL too.
      await kv.set("timed", "y");
      expect(await kv.ttl("timed")).toBe(KV_TTL_NONE);
    });

    it("rejects a TTL that is not a whole number of seconds", async () => {
      const kv = fresh();
      for (const ttlSeconds of [0, -1, 1.5, Number.NaN]) {
        const err = await kv.set("k", "v", { ttlSeconds }).catch((e: unknown) => e);
        expect((err as SluiceError).code).toBe("VALIDATION_FAILED");
        const err2 = await kv.setIfAbsent("k", "v", { ttlSeconds }).catch((e: unknown) => e);
        expect((err2 as SluiceError).code).toBe("VALIDATION_FAILED");
      }
      expect(await kv.get("k")).toBeNull();
    });

    it("expired keys are invisible everywhere and can be claimed again", async () => {
      const kv = fresh();
      await kv.set("short", "old", { ttlSeconds: 1 });
      expect(await kv.setIfAbsent("nx", "first", { ttlSeconds: 1 })).toEqual({ won: true });
      expect(await kv.countByPattern("*")).toBe(2);
      await sleep(1_100);
      expect(await kv.get("short")).toBeNull();
      expect(await kv.ttl("short")).toBe(KV_TTL_MISSING);
      expect(await kv.countByPattern("*")).toBe(0);
      expect(await kv.delete("short")).toBe(false);
      expect(await kv.setIfAbsent("nx", "second", { ttlSeconds: 60 })).toEqual({ won: true });
      expect(await kv.get("nx")).toBe("second");
    });

    it("setIfAbsent stores once and hands later callers the stored value, leaving value and TTL alone", async () => {
      const kv = fresh();
      expect(await kv.setIfAbsent("id", "job-1", { ttlSeconds: 500 })).toEqual({ won: true });
      expect(await kv.setIfAbsent("id", "job-2", { ttlSeconds: 5 })).toEqual({ won: false, existing: "job-1" });
      expect(await kv.setIfAbsent("id", "job-3")).toEqual({ won: false, existing: "job-1" });
      expect(await kv.get("id")).toBe("job-1");
      expect(await kv.ttl("id")).toBeGreaterThan(490);
      expect(await kv.setIfAbsent("plain", "v")).toEqual({ won: true });
      expect(await kv.ttl("plain")).toBe(KV_TTL_NONE);
    });

    it("100 concurrent setIfAbsent on one key: exactly one winner, everyone sees its value", async () => {
      const kv = fresh();
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => kv.setIfAbsent("race", `v${i}`, { ttlSeconds: 60 })));
      const winners = results.map((r, i) => (r.won ? `v${i}` : null)).filter((v) => v !== null);
      expect(winners).toHaveLength(1);
      const stored = await kv.get("race");
      expect(stored).toBe(winners[0]);
      for (const r of results) if (!r.won) expect(r.existing).toBe(stored);
    });

    it("concurrent setIfAbsent from two connections still has one winner", async (ctx) => {
      if (!handle.makeOther) return ctx.skip();
      const a = fresh();
      const b = handle.makeOther(`kvc-${process.pid}-${n}:`);
      try {
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).setIfAbsent("race2", `v${i}`, { ttlSeconds: 60 })),
        );
        expect(results.filter((r) => r.won)).toHaveLength(1);
        const stored = await a.get("race2");
        for (const r of results) if (!r.won) expect(r.existing).toBe(stored);
      } finally {
        await b.close();
      }
    });

    it("replaceIfValue replaces only the expected value of a live key, keeping its TTL", async () => {
      const kv = fresh();
      await kv.setIfAbsent("d", "pending", { ttlSeconds: 100 });
      expect(await kv.replaceIfValue("d", "theirs", "done")).toBe(false);
      expect(await kv.get("d")).toBe("pending");
      expect(await kv.replaceIfValue("d", "pending", "done")).toBe(true);
      expect(await kv.get("d")).toBe("done");
      expect(await kv.ttl("d")).toBeGreaterThanOrEqual(98);
      expect(await kv.ttl("d")).toBeLessThanOrEqual(100);
      expect(await kv.replaceIfValue("d", "pending", "again")).toBe(false);
      expect(await kv.replaceIfValue("missing", "pending", "done")).toBe(false);
      expect(await kv.get("missing")).toBeNull();
      await kv.set("short", "pending", { ttlSeconds: 1 });
      await sleep(1_100);
      expect(await kv.replaceIfValue("short", "pending", "done")).toBe(false);
      expect(await kv.get("short")).toBeNull();
    });

    it("delete reports whether it removed a live key", async () => {
      const kv = fresh();
      await kv.set("e", "x");
      expect(await kv.delete("e")).toBe(true);
      expect(await kv.delete("e")).toBe(false);
    });

    it("counts and deletes by Redis glob patterns", async () => {
      const kv = fresh();
      const keys = ["p:a:1", "p:a:2", "p:b:1", "p:c:1", "p:ab", "p:*lit", "p:100%_x", "p:1000", "q:a:1"];
      for (const key of keys) await kv.set(key, "v");
      const cases: [string, number][] = [
        ["*", 9],
        ["p:*", 8],
        ["p:a:*", 2],
        ["p:?:1", 3],
        ["p:[ab]:1", 2],
        ["p:[^a]:1", 2],
        ["p:[a-b]*", 4],
        ["p:\\*lit", 1],
        ["p:100%_*", 1],
        ["p:100*", 2],
        ["p:a", 0],
        ["nothing*", 0],
      ];
      for (const [pattern, count] of cases) expect({ pattern, count: await kv.countByPattern(pattern) }).toEqual({ pattern, count });
      expect(await kv.deleteByPattern("p:a:*")).toBe(2);
      expect(await kv.get("p:a:1")).toBeNull();
      expect(await kv.get("p:ab")).toBe("v");
      expect(await kv.deleteByPattern("p:a:*")).toBe(0);
      expect(await kv.deleteByPattern("*")).toBe(7);
    });

    it("deletes by pattern across many batches", async () => {
      const kv = fresh();
      await Promise.all(Array.from({ length: 1_100 }, (_, i) => kv.set(`bulk:${i}`, String(i), { ttlSeconds: 600 })));
      await kv.set("keep", "1");
      expect(await kv.countByPattern("bulk:*")).toBe(1_100);
      expect(await kv.deleteByPattern("bulk:*")).toBe(1_100);
      expect(await kv.countByPattern("*")).toBe(1);
    });

    it("a key prefix isolates two Kvs on one backend", async () => {
      const a = fresh();
      const b = fresh();
      await a.set("same", "a");
      await b.set("same", "b");
      expect(await a.get("same")).toBe("a");
      expect(await b.setIfAbsent("same", "x")).toEqual({ won: false, existing: "b" });
      expect(await a.deleteByPattern("*")).toBe(1);
      expect(await b.get("same")).toBe("b");
    });

    it("pings", async () => {
      await expect(fresh().ping()).resolves.toBeUndefined();
    });

    it("closes idempotently", async () => {
      const kv = handle.make(`kvc-${process.pid}-closing:`);
      await kv.close();
      await kv.close();
    });
  });
}
