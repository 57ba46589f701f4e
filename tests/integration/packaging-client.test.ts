import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientSchemaSource, SCHEMA_FILE } from "../../scripts/generate-client.ts";
import { createSluiceClient, type SluiceErrorBody } from "../../src/client/index.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

describe("sluice/client, the TypeScript SDK", () => {
  it("is what the package exports as sluice/client", async () => {
    // Node resolves a package's own name through its `exports` (the compiled build in dist/).
    const specifier: string = "sluice/client";
    const exported = (await import(specifier)) as { createSluiceClient?: unknown };
    expect(typeof exported.createSluiceClient).toBe("function");
  });

  describe("against a running server", () => {
    let t: TestSluice;
    let url: string;
    let key: string;
    beforeAll(async () => {
      t = await startTestSluice();
      t.sluice.task("echo", async (input: { text: string }) => ({ echoed: input.text }));
      await t.sluice.startWorkers();
      await t.sluice.intake.ensureWorkspace("ws-sdk", "SDK");
      key = (await t.sluice.intake.createApiKey({ workspaceId: "ws-sdk", scopes: ["jobs:write", "jobs:read"] })).secret;
      url = await t.app.listen({ port: 0, host: "127.0.0.1" });
    });
    afterAll(async () => {
      await t?.close();
    });

    it("is generated from the app's current OpenAPI document (run `npm run client:generate` when this fails)", async () => {
      // The same document scripts/generate-client.ts reads (GET /docs/json of an embedded app).
      const generated = await clientSchemaSource(
        (await t.app.inject({ method: "GET", url: "/docs/json" })).json<Record<string, unknown>>(),
      );
      expect(generated).toContain('"/ai/jobs": {');
      expect(readFileSync(SCHEMA_FILE, "utf8") === generated, "src/client/schema.ts is stale: run `npm run client:generate`").toBe(true);
    });

    it("submits a job and reads it back, typed by path", async () => {
      const sluice = createSluiceClient({ url: `${url}/`, apiKey: key });
      const submitted = await sluice.POST("/ai/jobs", { body: { type: "echo", input: { text: "hello sdk" }, client_request_id: "sdk-1" } });
      expect(submitted.response.status).toBe(202);
      const { id } = submitted.data as unknown as { id: string };
      let job: { status?: string; result?: unknown } = {};
      for (let i = 0; i < 100 && job.status !== "completed"; i++) {
        const read = await sluice.GET("/ai/jobs/{id}", { params: { path: { id } } });
        job = read.data as unknown as typeof job;
        if (job.status !== "completed") await new Promise((r) => setTimeout(r, 100));
      }
      expect(job).toMatchObject({ status: "completed", result: { echoed: "hello sdk" } });
    });

    it("returns Sluice's error body, not a throw, on a refused request", async () => {
      const sluice = createSluiceClient({ url, apiKey: "sk_sluice_wrong" });
      const refused = await sluice.GET("/ai/jobs/{id}", { params: { path: { id: "nope" } } });
      expect(refused.response.status).toBe(401);
      expect((refused.error as unknown as SluiceErrorBody).error.code).toMatch(/^[A-Z_]+$/);
    });
  });
});
