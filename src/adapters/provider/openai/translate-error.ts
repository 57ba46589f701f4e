import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { SluiceError } from "../../../core/errors.ts";
import { translateAbort, translateHttpFailure, translateTransportFailure, type HeaderSource } from "../http-errors.ts";

export interface CallContext {
  provider: string;
  model: string | undefined;
  signal: AbortSignal | undefined;
}

/** Every error the `openai` client throws becomes a Sluice error here, and nowhere else. */
export function translateOpenAIError(err: unknown, ctx: CallContext): Error {
  if (err instanceof SluiceError) return err;
  const { provider, model, signal } = ctx;
  if (err instanceof APIUserAbortError || (signal?.aborted && !(err instanceof APIError && err.status !== undefined))) {
    return translateAbort(signal, provider, model, err);
  }
  if (err instanceof APIConnectionTimeoutError) return translateTransportFailure("timeout", provider, model, err);
  if (err instanceof APIConnectionError) return translateTransportFailure("connection", provider, model, err);
  if (err instanceof APIError && typeof err.status === "number") {
    const body = err.error as { message?: unknown } | undefined;
    const message = typeof body?.message === "string" ? body.message : err.message;
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
  // A broken stream or an unparseable answer: the provider misbehaved, so a retry may help.
  const reason = err instanceof Error ? err.message : String(err);
  return new SluiceError("PROVIDER_ERROR", `${provider} failed: ${reason}`, { cause: err, details: { provider, model } });
}
