import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../harness/cli.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

describe("workspaces and API keys over HTTP", () => {
  let t: TestSluice;
  let admin: string;
  let reader: string;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    t = await startTestSluice();
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    admin = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    reader = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["jobs:read"] })).secret;
  });
  afterAll(async () => {
    await t.close();
  });

  it("PATCH /api/workspaces/{id} changes a workspace's rate limit at once, audited with before and after", async () => {
    await t.sluice.intake.ensureWorkspace("ws-limit", "Limit", { rateLimitPerMinute: 100 });
    const patch = (payload: object, id = "ws-limit") =>
      t.app.inject({ method: "PATCH", url: `/api/workspaces/${id}`, headers: auth(admin), payload });
    const changed = await patch({ rate_limit_per_minute: 5000, reason: "big import" });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ id: "ws-limit", name: "Limit", rate_limit_per_minute: 5000 });
    expect((await t.sluice.intake.getWorkspace("ws-limit"))?.rateLimitPerMinute).toBe(5000);
    expect((await patch({ rate_limit_per_minute: null })).json()).toMatchObject({ rate_limit_per_minute: null });
    expect((await patch({ rate_limit_per_minute: 5 }, "ws-missing")).statusCode).toBe(404);
    expect((await patch({ rate_limit_per_minute: "many" })).json().error.code).toBe("VALIDATION_FAILED");
    const rows = await t.sluice.audit.list({ action: "workspace.update" });
    expect(rows).toHaveLength(2);
    expect(rows.at(-1)).toMatchObject({ target: "ws-limit", details: { before: { rate_limit_per_minute: 100 }, outcome: "succeeded" } });
  });

  it("401 without a key, 401 with an unknown key, 403 without the admin scope", async () => {
    expect((await t.app.inject({ method: "GET", url: "/api/keys" })).json().error.code).toBe("UNAUTHENTICATED");
    const unknown = await t.app.inject({ method: "GET", url: "/api/keys", headers: auth("sk_sluice_nope") });
    expect(unknown.statusCode).toBe(401);
    const forbidden = await t.app.inject({ method: "GET", url: "/api/keys", headers: auth(reader) });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error.code).toBe("FORBIDDEN_SCOPE");
  });

  it("creates a workspace and a key whose secret is shown once and then authenticates", async () => {
    const ws = await t.app.inject({
      method: "POST",
      url: "/api/workspaces",
      headers: auth(admin),
      payload: { id: "ws-123", rate_limit_per_minute: 50 },
    });
    expect(ws.statusCode).toBe(201);
    expect(ws.json()).toMatchObject({ id: "ws-123", rate_limit_per_minute: 50 });
    const created = await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: auth(admin),
      payload: { workspace: "ws-123", scopes: "jobs:write,jobs:read" },
    });
    expect(created.statusCode).toBe(201);
    const body = created.json<{ id: string; key: string; scopes: string[] }>();
    expect(body.key).toMatch(/^sk_sluice_/);
    expect(body.scopes).toEqual(["jobs:read", "jobs:write"]);
    const principal = await t.sluice.intake.authenticate(body.key);
    expect(principal).toMatchObject({ workspaceId: "ws-123" });
    const listed = await t.app.inject({ method: "GET", url: "/api/keys?workspace=ws-123", headers: auth(admin) });
    expect(listed.body).not.toContain(body.key);
    expect(listed.json()).toHaveLength(1);
    const audit = await t.app.inject({ method: "GET", url: "/api/audit?action=key.create", headers: auth(admin) });
    expect(audit.json()[0]).toMatchObject({ action: "key.create", workspace_id: "ws-123", target: body.id });
  });

  it("a revoked key stops working and the revocation is audited", async () => {
    const created = (
      await t.app.inject({ method: "POST", url: "/api/keys", headers: auth(admin), payload: { workspace: "ops", scopes: ["admin"] } })
    ).json<{ id: string; key: string }>();
    expect((await t.app.inject({ method: "GET", url: "/api/keys", headers: auth(created.key) })).statusCode).toBe(200);
    const revoked = await t.app.inject({ method: "DELETE", url: `/api/keys/${created.id}`, headers: auth(admin) });
    expect(revoked.statusCode).toBe(200);
    expect((await t.app.inject({ method: "GET", url: "/api/keys", headers: auth(created.key) })).statusCode).toBe(401);
    const audit = (await t.app.inject({ method: "GET", url: "/api/audit?action=key.revoke", headers: auth(admin) })).json<
      Array<{ target: string }>
    >();
    expect(audit.map((a) => a.target)).toContain(created.id);
  });

  it("rejects bad input with stable codes", async () => {
    const badScope = await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: auth(admin),
      payload: { workspace: "ops", scopes: "jobs:delete" },
    });
    expect(badScope.statusCode).toBe(400);
    expect(badScope.json().error.code).toBe("VALIDATION_FAILED");
    const wrongType = await t.app.inject({ method: "POST", url: "/api/workspaces", headers: auth(admin), payload: { id: 42 } });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json().error.code).toBe("VALIDATION_FAILED");
    const badId = await t.app.inject({ method: "POST", url: "/api/workspaces", headers: auth(admin), payload: { id: "a:b" } });
    expect(badId.statusCode).toBe(400);
    const noWorkspace = await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: auth(admin),
      payload: { workspace: "nope", scopes: "jobs:read" },
    });
    expect(noWorkspace.statusCode).toBe(404);
    const unknownKey = await t.app.inject({ method: "DELETE", url: "/api/keys/key_missing", headers: auth(admin) });
    expect(unknownKey.statusCode).toBe(404);
    const dup = await t.app.inject({ method: "POST", url: "/api/workspaces", headers: auth(admin), payload: { id: "ops" } });
    expect(dup.statusCode).toBe(409);
    const malformed = await t.app.inject({
      method: "POST",
      url: "/api/workspaces",
      headers: { ...auth(admin), "content-type": "application/json" },
      payload: "{oops",
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe("BODY_MALFORMED");
  });
});

describe("sluice keys create (bootstrap, straight to the database)", () => {
  it("creates the workspace and prints a working key once", async () => {
    const url = await freshPostgresDatabase("keys");
    const result = runCli(["keys", "create", "--workspace", "ws-123", "--scopes", "jobs:write,jobs:read"], {
      DATABASE_URL: url,
      VECTOR_SEARCH_ENABLED: "false",
    });
    expect(result.status, result.stderr).toBe(0);
    const key = result.stdout.split("\n").find((l) => l.startsWith("sk_sluice_"));
    expect(key).toBeDefined();
    expect(result.stdout).toContain("scopes jobs:read,jobs:write");
  });

  it("without --scopes, the bootstrap key is an operator's", async () => {
    const url = await freshPostgresDatabase("keys-op");
    const result = runCli(["keys", "create", "--workspace", "ops"], { DATABASE_URL: url, VECTOR_SEARCH_ENABLED: "false" });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("with scopes operator");
  });
});
