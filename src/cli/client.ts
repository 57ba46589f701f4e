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

export function createClient(options: ClientOptions) {
  const base = options.url.replace(/\/+$/, "");
  async function request<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    } catch (err) {
      throw new ApiError(
        0,
        "UNREACHABLE",
        `Cannot reach Sluice at ${base}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`,
      );
    }
    const text = await response.text();
    const parsed: unknown = text.length > 0 && response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
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
