import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

const TOKEN = "metrics-token-0123456789";
const REMOTE = "10.1.2.3";

describe("ops endpoints are open on loopback, closed to the network unless opened on purpose", () => {
  let t: TestSluice;
  let admin: string;
  let reader: string;
  beforeAll(async () => {
    t = await startTestSluice({ METRICS_TOKEN: TOKEN });
    await t.sluice.intake.ensureWorkspace("ws-o", "O");
    admin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-o", scopes: ["operator"] })).secret;
    reader = (await t.sluice.intake.createApiKey({ workspaceId: "ws-o", scopes: ["jobs:read"] })).secret;
  });
  afterAll(async () => {
    await t?.close();
  });

  const get = (url: string, remoteAddress: string, secret?: string) =>
    t.app.inject({ method: "GET", url, remoteAddress, headers: secret ? { authorization: `Bearer ${secret}` } : {} });

  it("keeps /health open to everyone", async () => {
    expect((await get("/health", REMOTE)).statusCode).toBe(200);
  });

  it.each(["/metrics", "/health/db", "/health/llm", "/docs/json"])(
    "%s: loopback, METRICS_TOKEN or an admin key; 401 otherwise",
    async (url) => {
      expect((await get(url, "127.0.0.1")).statusCode).toBe(200);
      expect((await get(url, REMOTE, admin)).statusCode).toBe(200);
      const anonymous = await get(url, REMOTE);
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json()).toMatchObject({ error: { code: "UNAUTHENTICATED" } });
      expect((await get(url, REMOTE, reader)).statusCode).toBe(401);
      if (url !== "/docs/json") expect((await get(url, REMOTE, TOKEN)).statusCode).toBe(200);
    },
  );

  it("answers /ready to anyone, with each dependency's details only for the privileged", async () => {
    const outside = await get("/ready", REMOTE);
    expect(outside.statusCode).toBe(200);
    expect(outside.json()).toEqual({ ready: true, checks: expect.objectContaining({ db: { ok: true } }) });
    const local = await get("/ready", "127.0.0.1");
    expect(local.json()).toMatchObject({ ready: true, checks: { db: { ok: true, engine: "pglite" } } });
  });
});

describe("OPS_ENDPOINTS=open and DOCS_ENABLED", () => {
  it("opens metrics and health details to the network, and serves or hides /docs", async () => {
    const open = await startTestSluice({ OPS_ENDPOINTS: "open", DOCS_ENABLED: "true" });
    try {
      for (const url of ["/metrics", "/health/db", "/docs/json"])
        expect((await open.app.inject({ method: "GET", url, remoteAddress: REMOTE })).statusCode, url).toBe(200);
    } finally {
      await open.close();
    }
    const hidden = await startTestSluice({ DOCS_ENABLED: "false" });
    try {
      expect((await hidden.app.inject({ method: "GET", url: "/docs/json" })).statusCode).toBe(404);
    } finally {
      await hidden.close();
    }
  });
});
