import { SluiceError } from "../../../core/errors.ts";

/**
 * One outside HTTP call of a built-in action, its failures sorted by whether the effect can have
 * happened: a refused connection, a 429 or a 503 certainly did nothing (retryable on the same
 * key); any other failure (4xx rejected, 5xx, a timeout mid-request) is final for that key.
 */
export interface HttpCall {
  url: string;
  method?: "POST" | "PUT" | "PATCH";
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  /** Names the service in errors: "Gmail API", "Microsoft Graph". */
  service: string;
}

const NOTHING_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET_BEFORE_SEND"]);

function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

export async function callHttp(call: HttpCall): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(call.url, {
      method: call.method ?? "POST",
      headers: call.headers,
      body: call.body,
      signal: call.signal,
      redirect: "error",
    });
  } catch (err) {
    const code = causeCode(err);
    const retryable = code !== undefined && NOTHING_SENT.has(code);
    throw new SluiceError("ACTION_FAILED", `${call.service} could not be reached${code ? ` (${code})` : ""}`, { retryable, cause: err });
  }
  const text = await response.text().catch(() => "");
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  if (response.ok) return { status: response.status, body };
  const retryable = response.status === 429 || response.status === 503;
  throw new SluiceError("ACTION_FAILED", `${call.service} answered ${response.status}: ${text.slice(0, 300)}`, {
    retryable,
    details: { status: response.status },
  });
}

/** `base` + `path` with exactly one slash between them. */
export const joinUrl = (base: string, path: string): string => `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;

export function notConfigured(action: string, variable: string): SluiceError {
  return new SluiceError("ACTION_NOT_CONFIGURED", `${action} is not configured: set ${variable}`, { details: { action, variable } });
}
