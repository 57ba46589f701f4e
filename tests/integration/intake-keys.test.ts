import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresKv } from "../../src/adapters/kv/postgres/kv.ts";
import { createPgStore } from "../../src/adapters/store/pg/store.ts";
import { createPgliteStore } from "../../src/adapters/store/pglite/store.ts";
import { loadConfig } from "../../src/core/config.ts";
import { SluiceError } from "../../src/core/errors.ts";
import type { Store } from "../../src/ports/store.ts";
import { createMemoryLimitCounters } from "../../src/adapters/limits/memory/counters.ts";
import { createIntake, type Intake } from "../../src/pipeline/intake/index.ts";
import { migrate } from "../../src/pipeline/migrator.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { testPgliteDataDir } from "../harness/pglite-template.ts";

const config = loadConfig({});

async function codeOf(promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (err) {
    return err instanceof SluiceError ? err.code : `not a SluiceError: ${String(err)}`;
  }
  return undefined;
}

const targets: { name: string; open: () => Promise<Store> }[] = [
  { name: "PGlite", open: () => createPgliteStore({ dataDir: testPgliteDataDir() }) },
  {
    name: "PostgreSQL server",
    open: async () => createPgStore({ connectionString: await freshPostgresDatabase("intake_keys") }),
  },
];

describe.each(targets)("workspaces and API keys on $name", ({ open }) => {
  let store: Store;
  let intake: Intake;
  const make = (authCacheTtlMs?: number) =>
    createIntake({ limits: createMemoryLimitCounters(), store, kv: createPostgresKv({ store }), config, authCacheTtlMs });

  beforeAll(async () => {
    store = await open();
    await migrate(store, { requireVector: store.kind === "pglite" });
    intake = make();
  });
  afterAll(async () => {
    await store.close();
  });

  it("creates, reads, lists, updates and ensures workspaces", async () => {
    const ws = await intake.createWorkspace("ws-123", "Acme", { rateLimitPerMinute: 50 });
    expect(ws).toMatchObject({ id: "ws-123", name: "Acme", rateLimitPerMinute: 50 });
    expect(ws.createdAt).toBeInstanceOf(Date);
    await intake.createWorkspace("ws-b", "Beta");
    await intake.createWorkspace("ws-c", "Gamma");
    expect(await intake.getWorkspace("ws-b")).toMatchObject({ id: "ws-b", rateLimitPerMinute: null });
    expect(await intake.getWorkspace("nope")).toBeNull();
    expect((await intake.listWorkspaces()).map((w) => w.id)).toEqual(["ws-123", "ws-b", "ws-c"]);
    expect((await intake.listWorkspaces({ limit: 1, after: "ws-123" })).map((w) => w.id)).toEqual(["ws-b"]);
    expect(await intake.updateWorkspace("ws-b", { rateLimitPerMinute: 7 })).toMatchObject({ name: "Beta", rateLimitPerMinute: 7 });
    expect(await intake.updateWorkspace("ws-b", { name: "Beta 2" })).toMatchObject({ name: "Beta 2", rateLimitPerMinute: 7 });
    expect(await intake.updateWorkspace("ws-b", { rateLimitPerMinute: null })).toMatchObject({ rateLimitPerMinute: null });
    expect(await intake.ensureWorkspace("ws-c", "ignored")).toMatchObject({ id: "ws-c", name: "Gamma" });
    expect(await intake.ensureWorkspace("dev", "Development")).toMatchObject({ id: "dev", name: "Development" });
  });

  it("rejects bad workspace input with stable codes", async () => {
    expect(await codeOf(intake.createWorkspace("ws-123", "again"))).toBe("CONFLICT");
    for (const id of ["", "a:b", "ws*", "-lead", "x".repeat(65), "with space"]) {
      expect(await codeOf(intake.createWorkspace(id, "n"))).toBe("VALIDATION_FAILED");
    }
    expect(await codeOf(intake.createWorkspace("ok-name", "  "))).toBe("VALIDATION_FAILED");
    for (const rateLimitPerMinute of [0, -5, 1.5, 2_000_000]) {
      expect(await codeOf(intake.createWorkspace("ok-rl", "n", { rateLimitPerMinute }))).toBe("VALIDATION_FAILED");
    }
    expect(await codeOf(intake.updateWorkspace("missing", { name: "x" }))).toBe("NOT_FOUND");
    expect(await intake.getWorkspace("ok-rl")).toBeNull();
  });

  it("creates a key whose secret is shown once and stored only as a sha256 hash", async () => {
    const key = await intake.createApiKey({ workspaceId: "ws-123", scopes: "jobs:write,jobs:read", name: "ci" });
    expect(key.secret).toMatch(/^sk_sluice_[0-9A-Za-z]{40}$/);
    expect(key.prefix).toBe(key.secret.slice(0, 16));
    expect(key).toMatchObject({ workspaceId: "ws-123", scopes: ["jobs:read", "jobs:write"], name: "ci", revokedAt: null });
    const { rows } = await store.query<Record<string, unknown>>("SELECT * FROM api_keys WHERE id = $1", [key.id]);
    expect(rows[0]?.key_hash).toBe(createHash("sha256").update(key.secret).digest("hex"));
    expect(JSON.stringify(rows[0])).not.toContain(key.secret);
    const listed = await intake.listApiKeys("ws-123");
    expect(listed.map((k) => k.id)).toContain(key.id);
    expect(JSON.stringify(listed)).not.toContain(key.secret);
    expect(listed.every((k) => !("secret" in k) && !("keyHash" in k) && !("key_hash" in k))).toBe(true);
  });

  it("validates scopes and the workspace of a new key", async () => {
    expect(await codeOf(intake.createApiKey({ workspaceId: "ws-123", scopes: ["jobs:write", "jobs:delete"] }))).toBe("VALIDATION_FAILED");
    expect(await codeOf(intake.createApiKey({ workspaceId: "ws-123", scopes: [] }))).toBe("VALIDATION_FAILED");
    expect(await codeOf(intake.createApiKey({ workspaceId: "ws-123", scopes: " , " }))).toBe("VALIDATION_FAILED");
    expect(await codeOf(intake.createApiKey({ workspaceId: "no-such-ws", scopes: ["admin"] }))).toBe("NOT_FOUND");
    const err = (await intake.createApiKey({ workspaceId: "ws-123", scopes: ["root"] }).catch((e: unknown) => e)) as SluiceError;
    expect(err.details).toMatchObject({ unknown: ["root"], allowed: ["jobs:read", "jobs:write", "admin", "operator"] });
  });

  it("authenticates a key to its workspace and scopes, and refuses anything else", async () => {
    const key = await intake.createApiKey({ workspaceId: "ws-b", scopes: ["jobs:read"] });
    const principal = await intake.authenticate(key.secret);
    expect(principal).toEqual({ keyId: key.id, workspaceId: "ws-b", scopes: ["jobs:read"] });
    const used = await intake.listApiKeys("ws-b");
    expect(used.find((k) => k.id === key.id)?.lastUsedAt).toBeInstanceOf(Date);
    for (const secret of [
      undefined,
      null,
      "",
      "Bearer x",
      "sk_sluice_",
      `${key.secret}x`,
      key.secret.toUpperCase(),
      "sk_sluice_" + "a".repeat(300),
    ]) {
      expect(await codeOf(intake.authenticate(secret))).toBe("UNAUTHENTICATED");
    }
    // Cached or not, the answer is the same.
    expect(await intake.authenticate(key.secret)).toEqual(principal);
    const many = await Promise.all(Array.from({ length: 50 }, () => make().authenticate(key.secret)));
    expect(new Set(many.map((p) => p.keyId))).toEqual(new Set([key.id]));
  });

  it("enforces scopes, with admin covering the jobs scopes and operator covering all", async () => {
    const reader = await intake.authenticate((await intake.createApiKey({ workspaceId: "ws-c", scopes: ["jobs:read"] })).secret);
    const writer = await intake.authenticate((await intake.createApiKey({ workspaceId: "ws-c", scopes: ["jobs:write"] })).secret);
    const admin = await intake.authenticate((await intake.createApiKey({ workspaceId: "ws-c", scopes: ["admin"] })).secret);
    expect(() => intake.requireScope(reader, "jobs:read")).not.toThrow();
    expect(await codeOf(() => intake.requireScope(reader, "jobs:write"))).toBe("FORBIDDEN_SCOPE");
    expect(await codeOf(() => intake.requireScope(writer, "jobs:read"))).toBe("FORBIDDEN_SCOPE");
    expect(await codeOf(() => intake.requireScope(writer, "admin"))).toBe("FORBIDDEN_SCOPE");
    for (const scope of ["jobs:read", "jobs:write", "admin"] as const) expect(() => intake.requireScope(admin, scope)).not.toThrow();
    expect(await codeOf(() => intake.requireScope(admin, "operator"))).toBe("FORBIDDEN_SCOPE");
    const operator = await intake.authenticate((await intake.createApiKey({ workspaceId: "ws-c", scopes: ["operator"] })).secret);
    for (const scope of ["jobs:read", "jobs:write", "admin", "operator"] as const)
      expect(() => intake.requireScope(operator, scope)).not.toThrow();
    const err = (() => {
      try {
        intake.requireScope(reader, "admin");
      } catch (e) {
        return e as SluiceError;
      }
      return undefined;
    })();
    expect(err?.status).toBe(403);
    expect(err?.details).toEqual({ required: "admin", granted: ["jobs:read"] });
  });

  it("revocation is immediate in this process and reaches others within their cache TTL", async () => {
    const other = make(200);
    const key = await intake.createApiKey({ workspaceId: "ws-123", scopes: ["jobs:write"] });
    await intake.authenticate(key.secret);
    await other.authenticate(key.secret);
    expect(await codeOf(intake.revokeApiKey(key.id, { workspaceId: "ws-b" }))).toBe("NOT_FOUND");
    expect(await codeOf(intake.authenticate(key.secret))).toBeUndefined();
    const revoked = await intake.revokeApiKey(key.id, { workspaceId: "ws-123" });
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect(await codeOf(intake.authenticate(key.secret))).toBe("UNAUTHENTICATED");
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await codeOf(other.authenticate(key.secret))).toBe("UNAUTHENTICATED");
    // Idempotent, keeps the first revocation time.
    expect((await intake.revokeApiKey(key.id)).revokedAt).toEqual(revoked.revokedAt);
    expect(await codeOf(intake.revokeApiKey("key_missing"))).toBe("NOT_FOUND");
    expect((await intake.listApiKeys("ws-123")).map((k) => k.id)).not.toContain(key.id);
    expect((await intake.listApiKeys("ws-123", { includeRevoked: true })).map((k) => k.id)).toContain(key.id);
    expect((await intake.listApiKeys()).every((k) => k.revokedAt === null)).toBe(true);
  });
});
