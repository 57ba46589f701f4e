import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * The small HTTP toolkit of the fake provider server: routes are plain objects so other test
 * modules (e.g. the OpenAI Batch and Files endpoints) can be added with `server.addRoutes()`.
 */

/** Which provider's error body and rate-limit headers a route speaks. */
export type WireFormat = "openai" | "anthropic";

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** The parsed JSON body (undefined for GET or an empty body). */
  body: unknown;
  url: URL;
}

export interface FakeRoute {
  method: "GET" | "POST" | "DELETE";
  /** Exact path, or a RegExp for paths with ids (`/v1/files/:id`). */
  path: string | RegExp;
  /** Stats key, e.g. "chat", "embeddings", "messages". */
  name: string;
  format: WireFormat;
  /** Whether scripted faults, latency, outage and enforced limits apply. @default true */
  faults?: boolean;
  /** What the request costs against enforced limits (model and tokens); none means 0 tokens. */
  cost?(body: unknown): { model: string; tokens: number };
  handle(ctx: RouteContext): Promise<void> | void;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
  ) {
    super(message);
  }
}

export async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return undefined;
  // Uploads (OpenAI Files: multipart/form-data) reach their route as the raw text.
  if (req.headers["content-type"]?.startsWith("multipart/")) return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "body is not valid JSON");
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** An error body in the provider's own shape, which the official clients parse. */
export function sendError(
  res: ServerResponse,
  format: WireFormat,
  status: number,
  message: string,
  type: string,
  headers: Record<string, string> = {},
): void {
  const body =
    format === "anthropic"
      ? { type: "error", error: { type, message } }
      : { error: { message, type, code: status === 429 ? "rate_limit_exceeded" : null, param: null } };
  sendJson(res, status, body, { "x-request-id": `req_fake_${Date.now().toString(36)}`, ...headers });
}

export function startSse(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", ...headers });
}

export function writeSse(res: ServerResponse, data: unknown, event?: string): void {
  if (res.destroyed) return;
  res.write(`${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export function matches(route: FakeRoute, method: string | undefined, path: string): boolean {
  if (route.method !== method) return false;
  return typeof route.path === "string" ? route.path === path : route.path.test(path);
}
