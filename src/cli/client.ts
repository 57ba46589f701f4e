import { createSluiceClient } from "../client/index.ts";
/** A small client for a running Sluice server's HTTP API, the way the runbooks use curl. */
export interface ClientOptions {
  url: string;
  apiKey?: string | undefined;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  /** The response's Date header: the server's clock, to whole seconds. */
  date?: string | undefined;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The SDK's `request`, called with paths the CLI has already filled in (ids and query strings). */
type UntypedRequest = (
  method: string,
  url: string,
  init: { body?: unknown; parseAs: "text" },
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

/**
 * The CLI's client: Sluice's own SDK (sluice/client) underneath, so the CLI is the SDK's first user,
 * plus what a command line needs on top: an unreachable server as one clear error, the raw answer
 * for `status`/`doctor`, and a non-2xx answer thrown with the server's error code.
 */
export function createClient(options: ClientOptions) {
  const base = options.url.replace(/\/+$/, "");
  const sdk = createSluiceClient({ url: base, apiKey: options.apiKey });
  const send = sdk.request as unknown as UntypedRequest;
  async function request<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    let answer: Awaited<ReturnType<UntypedRequest>>;
    try {
      answer = await send(method.toLowerCase(), path, { ...(body === undefined ? {} : { body }), parseAs: "text" });
    } catch (err) {
      throw new ApiError(
        0,
        "UNREACHABLE",
        `Cannot reach Sluice at ${base}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`,
      );
    }
    const { response } = answer;
    // openapi-fetch hands back a 2xx body as text (parseAs) and an error body already parsed when it is JSON.
    const raw = response.ok ? answer.data : answer.error;
    const json = response.headers.get("content-type")?.includes("json") ?? false;
    const parsed: unknown = typeof raw === "string" ? (raw.length > 0 && json ? JSON.parse(raw) : raw) : (raw ?? "");
    return { status: response.status, body: parsed as T, date: response.headers.get("date") ?? undefined };
  }
  /** Like request, but a non-2xx answer throws with the server's error code and message. */
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const result = await request<T>(method, path, body);
    if (result.status >= 400) {
      const error = (result.body as { error?: { code?: string; message?: string } }).error;
      throw new ApiError(result.status, error?.code ?? "HTTP_ERROR", error?.message ?? `HTTP ${result.status}`);
    }
    return result.body;
  }
  return { request, call, base };
}

export type Client = ReturnType<typeof createClient>;
