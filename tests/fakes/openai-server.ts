import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { anthropicRoutes } from "./provider-server/anthropic-routes.ts";
import { echoResponder, type Responder } from "./provider-server/content.ts";
import { HttpError, matches, readBody, sendError, type FakeRoute, type RouteContext } from "./provider-server/http.ts";
import type { EnforcedLimits } from "./provider-server/limits.ts";
import { openaiRoutes } from "./provider-server/openai-routes.ts";
import { FakeState, type FakeStats, type OutageOptions, type RateLimitFault } from "./provider-server/state.ts";

/**
 * The only fake in Sluice's tests: a remote AI provider we cannot run here. It speaks OpenAI's
 * chat completions (plain and SSE), embeddings and model list, and Anthropic's messages (plain
 * and SSE), on 127.0.0.1 at a random port, and can be told to misbehave the ways providers do.
 *
 * More endpoints (e.g. OpenAI Batch and Files) plug in with `addRoutes()`; faults apply to every
 * route whose `faults` is not false, in this order: latency, outage, scripted 429s, scripted 5xx,
 * hangs, enforced RPM/TPM limits.
 */
export interface FakeProviderServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `http://127.0.0.1:PORT/v1`, the `baseURL` for the `openai` client. */
  readonly openaiBaseUrl: string;
  /** `http://127.0.0.1:PORT`, the `baseURL` for `@anthropic-ai/sdk`. */
  readonly anthropicBaseUrl: string;
  /** Live counters; `reset()` starts them again. */
  readonly stats: FakeStats;
  /** The next `fault.count` requests answer 429 with Retry-After / x-ratelimit-* headers. */
  rateLimitNext(fault: RateLimitFault): void;
  /** The next `count` requests answer `status` (a 5xx burst). */
  failNext(count: number, status?: number): void;
  /** The next `count` requests get no answer (until `ms`, then a normal one; or until the client gives up). */
  hangNext(count: number, ms?: number): void;
  /** Every request waits this long before anything else happens. */
  setLatency(ms: number): void;
  /** Delay between streamed chunks (a slow stream). */
  setStreamChunkDelay(ms: number): void;
  /** Everything answers 503 (or drops the connection) until turned off. */
  setOutage(on: boolean, options?: OutageOptions): void;
  /** Enforce per-model RPM/TPM limits (429 when exceeded, counted in `stats.limitRejections`); undefined lifts them. */
  setLimits(limits: EnforcedLimits | undefined): void;
  /** What chat/messages answer with; the default echoes the last user message. */
  setResponder(responder: Responder | undefined): void;
  /** Embedding size when a request gives no `dimensions`. @default 1536 */
  setEmbeddingDimensions(dimensions: number): void;
  /** Adds routes (matched before the built-in ones). */
  addRoutes(routes: readonly FakeRoute[]): void;
  /** The shared state, for routes added from other modules. */
  readonly state: FakeState;
  /** Back to a well-behaved server with zeroed stats. */
  reset(): void;
  close(): Promise<void>;
}

async function dispatch(state: FakeState, routes: readonly FakeRoute[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const route = routes.find((r) => matches(r, req.method, url.pathname));
  const format = req.headers["anthropic-version"] ? "anthropic" : "openai";
  if (!route) return sendError(res, format, 404, `No route ${req.method} ${url.pathname}`, "not_found_error");
  state.stats.requests++;
  state.stats.byRoute[route.name] = (state.stats.byRoute[route.name] ?? 0) + 1;
  const ctx: RouteContext = { req, res, url, body: undefined };
  try {
    ctx.body = await readBody(req);
    const proceed = route.faults === false || (await state.gate(route, ctx, () => route.cost?.(ctx.body) ?? { model: "", tokens: 0 }));
    if (proceed) await route.handle(ctx);
  } catch (err) {
    const status = err instanceof HttpError ? err.status : 500;
    state.record(ctx, route, status);
    sendError(
      res,
      route.format,
      status,
      err instanceof Error ? err.message : String(err),
      err instanceof HttpError ? err.type : "server_error",
    );
  }
}

export async function startFakeProviderServer(): Promise<FakeProviderServer> {
  const state = new FakeState();
  const routes: FakeRoute[] = [...openaiRoutes(state), ...anthropicRoutes(state)];
  const server: Server = createServer((req, res) => void dispatch(state, routes, req, res));
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    openaiBaseUrl: `${url}/v1`,
    anthropicBaseUrl: url,
    get stats() {
      return state.stats;
    },
    state,
    rateLimitNext: (fault) => state.rateLimitNext(fault),
    failNext: (count, status) => state.failNext(count, status),
    hangNext: (count, ms) => state.hangNext(count, ms),
    setLatency: (ms) => void (state.latencyMs = ms),
    setStreamChunkDelay: (ms) => void (state.streamChunkDelayMs = ms),
    setOutage: (on, options) => state.setOutage(on, options),
    setLimits: (limits) => state.setLimits(limits),
    setResponder: (responder) => void (state.responder = responder ?? echoResponder),
    setEmbeddingDimensions: (dimensions) => void (state.embeddingDimensions = dimensions),
    addRoutes: (extra) => void routes.unshift(...extra),
    reset: () => state.reset(),
    async close() {
      for (const c of state.hangControllers) c.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
