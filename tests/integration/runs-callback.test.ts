import { createHmac, timingSafeEqual } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { isSluiceError } from "../../src/core/errors.ts";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { embeddedAndServers, redisUrl } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { runbookLine, runRunbookLine } from "../harness/runbook.ts";
import { until } from "../harness/wait.ts";
import { startReceiver, type Delivery } from "../harness/webhook-receiver.ts";

/**
 * A run's own callback_url (POST /api/pipelines/{name}/runs and the library's runs.start): checked
 * like POST /ai/jobs's, stored and shown on the run, and called once with a signed run.completed
 * webhook when the run settles, retried after a 500, in the delivery log. The signature is checked
 * as a receiver would, with node:crypto alone. Redis logical database 50.
 */
const SECRET = "runs-callback-secret-0123456789";
const WS = "ws-run-hooks";

/** A receiver's check of `Sluice-Signature: t=<s>,v1=<hex>`: HMAC-SHA256 of "<t>.<raw body>". */
function signedBySecret(body: string, header: string | undefined): boolean {
  const parts = new Map((header ?? "").split(",").map((p) => p.split("=", 2) as [string, string]));
  const t = parts.get("t");
  const v1 = parts.get("v1");
  if (!t || !v1 || Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const expected = createHmac("sha256", SECRET).update(`${t}.${body}`).digest();
  const given = Buffer.from(v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

for (const engine of embeddedAndServers("runs_callback", 50)) {
  describe(`a run's own callback_url on ${engine.name}`, () => {
    let t: TestSluice;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let writer = "";
    let admin = "";
    const auth = (key: string) => ({ authorization: `Bearer ${key}` });
    const startRun = (payload: Record<string, unknown>) =>
      t.app.inject({
        method: "POST",
        url: "/api/pipelines/hooked/runs",
        headers: auth(writer),
        payload: { input: { name: "ada" }, ...payload },
      });
    const deliveries = async (runId: string): Promise<Delivery[]> =>
      (await t.app.inject({ method: "GET", url: `/api/webhooks/deliveries?run=${runId}`, headers: auth(admin) })).json<Delivery[]>();
    const delivered = (runId: string) =>
      until(
        () => deliveries(runId),
        (rows) => rows.length > 0 && rows.every((r) => r.status === "delivered"),
        30_000,
        `run ${runId}'s callback delivered`,
      );

    beforeAll(async () => {
      const env = await engine.env();
      if (env.REDIS_URL) {
        const redis = new Redis(redisUrl(50));
        await redis.flushdb();
        redis.disconnect();
      }
      receiver = await startReceiver();
      t = await startTestSluice({
        ...env,
        WEBHOOK_SIGNING_SECRET: SECRET,
        // The receiver listens on loopback, which production refuses (SSRF); tests must allow it.
        WEBHOOK_ALLOW_PRIVATE: "true",
        WEBHOOK_BACKOFF_MS: "200",
      });
      t.sluice.pipeline(
        definePipeline({ name: "hooked", input: z.object({ name: z.string() }) }, async (input, step) => ({
          greeting: await step.run("compose", () => `hello ${input.name}`),
        })),
      );
      await t.sluice.startWorkers();
      await t.sluice.intake.ensureWorkspace(WS, "Run hooks", { rateLimitPerMinute: 100_000 });
      writer = (await t.sluice.intake.createApiKey({ workspaceId: WS, scopes: ["jobs:write", "jobs:read"] })).secret;
      admin = (await t.sluice.intake.createApiKey({ workspaceId: WS, scopes: ["admin", "jobs:read"] })).secret;
    });
    afterAll(async () => {
      await t?.close();
      await receiver?.close();
    });

    it("stores and shows it, and delivers one signed run.completed there, retried after a 500, logged", async () => {
      const target = `${receiver.url}/run-done`;
      receiver.failFirst.set("/run-done", 1);
      const started = await startRun({ callback_url: target, client_request_id: "cb-1" });
      expect(started.statusCode, started.body).toBe(202);
      const runId = started.json<{ id: string }>().id;

      const [delivery, ...others] = await delivered(runId);
      expect(others).toEqual([]);
      expect(delivery).toMatchObject({ event: "run.completed", subject: `run:${runId}`, target, attempts: 2, last_status_code: 200 });
      const requests = receiver.received.get("/run-done") ?? [];
      expect(requests.map((r) => r.answered)).toEqual([500, 200]);
      for (const request of requests) expect(signedBySecret(request.body, request.signature)).toBe(true);
      expect(signedBySecret(`${requests[0]!.body} `, requests[0]!.signature)).toBe(false);
      expect(JSON.parse(requests[1]!.body)).toMatchObject({
        type: "run.completed",
        workspace: WS,
        data: { run: { id: runId, pipeline: "hooked", status: "completed", output: { greeting: "hello ada" } } },
      });

      const shown = await t.app.inject({ method: "GET", url: `/api/runs/${runId}`, headers: auth(writer) });
      expect(shown.json<{ callback_url: string | null; status: string }>()).toMatchObject({ callback_url: target, status: "completed" });
    });

    it("refuses a URL Sluice will not call with 400 WEBHOOK_URL_REFUSED, starting nothing", async () => {
      for (const bad of ["ftp://example.com/x", "file:///etc/passwd", "not a url", "http://user:pw@example.com/"]) {
        const res = await startRun({ callback_url: bad, client_request_id: `bad-${bad}` });
        expect([bad, res.statusCode, res.json<{ error: { code: string } }>().error.code]).toEqual([bad, 400, "WEBHOOK_URL_REFUSED"]);
      }
      const tooLong = await startRun({ callback_url: `http://example.com/${"x".repeat(2_100)}` });
      expect([tooLong.statusCode, tooLong.json<{ error: { code: string } }>().error.code]).toEqual([400, "VALIDATION_FAILED"]);
      const listed = await t.app.inject({ method: "GET", url: "/api/runs", headers: auth(writer) });
      expect(listed.json<{ runs: unknown[] }>().runs).toHaveLength(1);
    });

    it("the library's runs.start takes callbackUrl too, checked the same way", async () => {
      const refused = await t.sluice.runs
        .start({ pipeline: "hooked", workspace: WS, input: { name: "x" }, callbackUrl: "gopher://example.com/" })
        .then(
          () => "started",
          (err: unknown) => (isSluiceError(err) ? err.code : String(err)),
        );
      expect(refused).toBe("WEBHOOK_URL_REFUSED");
      const target = `${receiver.url}/library`;
      const { id } = await t.sluice.runs.start({ pipeline: "hooked", workspace: WS, input: { name: "lib" }, callbackUrl: target });
      expect(await delivered(id)).toMatchObject([{ target, status: "delivered", attempts: 1 }]);
      const [request] = receiver.received.get("/library") ?? [];
      expect(signedBySecret(request?.body ?? "", request?.signature)).toBe(true);
    });

    it("the runbook's `sluice webhooks deliveries --run <run>` lists that run's callback and no other run's", async () => {
      const line = runbookLine("### Tell a client when its run settles", "sluice webhooks deliveries --run");
      const target = `${receiver.url}/runbook`;
      const runs: string[] = [];
      for (const name of ["shown", "other"]) {
        const started = await startRun({ callback_url: target, client_request_id: `runbook-${name}` });
        expect(started.statusCode, started.body).toBe(202);
        runs.push(started.json<{ id: string }>().id);
      }
      const [shown = "", other = ""] = runs;
      for (const id of runs) await delivered(id);
      const url = await t.app.listen({ port: 0, host: "127.0.0.1" });
      const result = await runRunbookLine(line, { run: shown }, { SLUICE_URL: url, SLUICE_API_KEY: admin });
      expect(result.status, result.stderr).toBe(0);
      const [header, ...rows] = result.stdout.trim().split("\n");
      expect(header).toMatch(/^ID +EVENT +SUBJECT +TARGET +STATUS +ATTEMPTS +LAST_STATUS_CODE/);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatch(new RegExp(`^\\S+ +run\\.completed +run:${shown} +${target} +delivered +1 +200 `));
      expect(result.stdout).not.toContain(other);
    });
  });
}
