import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import { SluiceError } from "../../../core/errors.ts";
import { translateAbort, translateHttpFailure, translateTransportFailure, type HeaderSource } from "../http-errors.ts";

export interface CallContext {
  provider: string;
  model: string | undefined;
  signal: AbortSignal | undefined;
}

/**
 * Every error the `@anthropic-ai/sdk` client throws becomes a Sluice error here. Anthropic's 529
 * ("overloaded") is retryable like a 503; the status table lives in http-errors.ts.
 */
export function translateAnthropicError(err: unknown, ctx: CallContext): Error {
  if (err instanceof SluiceError) return err;
  const { provider, model, signal } = ctx;
  if (err instanceof APIUserAbortError || (signal?.aborted && !(err instanceof APIError && err.status !== undefined))) {
    return translateAbort(signal, provider, model, err);
  }
  if (err instanceof APIConnectionTimeoutError) return translateTransportFailure("timeout", provider, model, err);
  if (err instanceof APIConnectionError) return translateTransportFailure("connection", provider, model, err);
  if (err instanceof APIError && typeof err.status === "number") {
    const message = err.apiMessage ?? err.message;
    return translateHttpFailure({
      provider,
      model,
      status: err.status,
      headers: err.headers as HeaderSource | undefined,
      message,
      requestId: typeof err.requestID === "string" ? err.requestID : undefined,
      cause: err,
    });
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new SluiceError("PROVIDER_ERROR", `${provider} failed: ${reason}`, { cause: err, details: { provider, model } });
}
