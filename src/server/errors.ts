import type { FastifyError, FastifyInstance } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { SluiceError, type ErrorCode } from "../core/errors.ts";

// Fastify's own error codes mapped to ours: the HTTP contract speaks only Sluice codes.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "BODY_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "BODY_MALFORMED",
  FST_ERR_CTP_EMPTY_JSON_BODY: "BODY_MALFORMED",
  FST_ERR_CTP_INVALID_JSON_BODY: "BODY_MALFORMED",
  FST_ERR_VALIDATION: "VALIDATION_FAILED",
};

export function toSluiceError(err: FastifyError | Error): SluiceError {
  if (err instanceof SluiceError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const details = err.validation.map((v) => ({ path: v.instancePath || "/", message: v.message }));
    return new SluiceError("VALIDATION_FAILED", `Request ${err.validationContext ?? "input"} failed validation`, { details, cause: err });
  }
  const code = (err as FastifyError).code;
  const mapped = code ? FASTIFY_CODES[code] : undefined;
  // A JSON.parse failure inside Fastify's parser arrives as a SyntaxError with status 400.
  if (!mapped && err instanceof SyntaxError && (err as FastifyError).statusCode === 400) return new SluiceError("BODY_MALFORMED", err.message, { cause: err });
  if (mapped) return new SluiceError(mapped, err.message, { cause: err });
  return new SluiceError("INTERNAL", "Internal error", { cause: err });
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const sluiceError = toSluiceError(err);
    if (sluiceError.status >= 500) request.log.error({ err }, "request failed");
    if (sluiceError instanceof SluiceError && "retryAfterMs" in sluiceError && typeof sluiceError.retryAfterMs === "number") {
      void reply.header("retry-after", String(Math.max(1, Math.ceil(sluiceError.retryAfterMs / 1000))));
    }
    return reply.status(sluiceError.status).send(sluiceError.toJSON());
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(new SluiceError("ROUTE_NOT_FOUND", `No route ${request.method} ${request.url.split("?")[0] ?? ""}`).toJSON()),
  );
}
