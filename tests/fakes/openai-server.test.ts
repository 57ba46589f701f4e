import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sendJson } from "./provider-server/http.ts";
import { startFakeProviderServer, type FakeProviderServer } from "./openai-server.ts";

/** The fake provider itself: what the runtime tests and benchmarks rely on. */

let server: FakeProviderServer;
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
const chat = (content = "hello", extra: Record<string, unknown> = {}) =>
  post("/v1/chat/completions", { model: "m", messages: [{ role: "user", content }], max_tokens: 50, ...extra });

beforeAll(async () => {
  server = await startFakeProviderServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

describe("fake provider server", () => {
  it("counts requests and tokens per route", async () => {
    await chat("12345678");
    await post("/v1/embeddings", { model: "e", input: ["abcd", "efgh"] });
    expect(server.stats).toMatchObject({ requests: 2, byRoute: { chat: 1, embeddings: 1 }, inputTokens: 2 + 2, outputTokens: 4 });
  });

  it("adds a fixed latency", async () => {
    server.setLatency(150);
    const started = Date.now();
    await chat();
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
  });

  it("enforces RPM with OpenAI-style headers and counts its rejections", async () => {
    server.setLimits({ rpm: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await chat()).status);
    expect(statuses).toEqual([200, 200, 429]);
    const res = await chat();
    expect(res.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(server.stats.limitRejections).toBe(2);
  });

  it("enforces TPM on prompt plus completion tokens", async () => {
    server.setLimits({ tpm: 10 });
    expect((await chat("x".repeat(16))).status).toBe(200); // 4 + 6 tokens
    expect((await chat("x")).status).toBe(429);
  });

  it("answers OpenAI's base64 embeddings", async () => {
    const res = await post("/v1/embeddings", { model: "e", input: "hi", dimensions: 4, encoding_format: "base64" });
    const body = (await res.json()) as { data: { embedding: string }[] };
    expect(Buffer.from(body.data[0]?.embedding ?? "", "base64")).toHaveLength(16);
  });

  it("speaks Anthropic's error shape on /v1/messages", async () => {
    server.failNext(1, 529);
    const res = await post(
      "/v1/messages",
      { model: "c", max_tokens: 5, messages: [{ role: "user", content: "x" }] },
      { "anthropic-version": "2023-06-01" },
    );
    expect(res.status).toBe(529);
    expect(await res.json()).toMatchObject({ type: "error", error: { type: "server_error" } });
  });

  it("takes extra routes, with faults applied to them", async () => {
    server.addRoutes([
      {
        method: "GET",
        path: /^\/v1\/files\/[\w-]+$/,
        name: "files",
        format: "openai",
        handle: ({ res, url }) => sendJson(res, 200, { id: url.pathname.split("/").at(-1) }),
      },
    ]);
    expect(await (await fetch(`${server.url}/v1/files/file-1`)).json()).toEqual({ id: "file-1" });
    server.setOutage(true);
    expect((await fetch(`${server.url}/v1/files/file-1`)).status).toBe(503);
    expect((await fetch(`${server.url}/v1/nothing`)).status).toBe(404);
  });
});
