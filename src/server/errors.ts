import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { carriesInternals, ERROR_CATALOGUE, SluiceError, type ErrorCode } from "../core/errors.ts";

// Fastify's own error codes mapped to ours: the HTTP contract speaks only Sluice codes.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "BODY_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "BODY_MALFORMED",
  FST_ERR_CTP_EMPTY_JSON_BODY: "BODY_MALFORMED",
  FST_ERR_CTP_INVALID_JSON_BODY: "BODY_MALFORMED",
  FST_ERR_VALIDATION: "VALIDATION_FAILED",
  FST_ERR_BAD_URL: "URL_MALFORMED",
  FST_ERR_MAX_PARAM_LENGTH: "URI_TOO_LONG",
  FST_ERR_CTP_INVALID_CONTENT_TYPE: "UNSUPPORTED_MEDIA_TYPE",
};

function toSluiceError(err: FastifyError | Error): SluiceError {
  if (err instanceof SluiceError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const details = err.validation.map((v) => ({ path: v.instancePath || "/", message: v.message }));
    return new SluiceError("VALIDATION_FAILED", `Request ${err.validationContext ?? "input"} failed validation`, { details, cause: err });
  }
  const code = (err as FastifyError).code;
  const mapped = code ? FASTIFY_CODES[code] : undefined;
  // A JSON.parse failure inside Fastify's parser arrives as a SyntaxError with status 400.
  if (!mapped && err instanceof SyntaxError && (err as FastifyError).statusCode === 400)
    return new SluiceError("BODY_MALFORMED", err.message, { cause: err });
  if (mapped) return new SluiceError(mapped, err.message, { cause: err });
  return new SluiceError("INTERNAL", "Internal error", { cause: err });
}

/** A caller's view of an error: the catalogue's message where the text may carry internals (see `carriesInternals`). */
function publicBody(
  err: SluiceError,
  requestId: string,
): { error: { code: ErrorCode; message: string; details?: unknown; request_id: string } } {
  if (carriesInternals(err.code)) return { error: { code: err.code, message: ERROR_CATALOGUE[err.code].message, request_id: requestId } };
  return { error: { ...err.toJSON().error, request_id: requestId } };
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const sluiceError = toSluiceError(err);
    if (sluiceError.status >= 500) request.log.error({ err, requestId: request.id }, "request failed");
    if (sluiceError instanceof SluiceError && "retryAfterMs" in sluiceError && typeof sluiceError.retryAfterMs === "number") {
      void reply.header("retry-after", String(Math.max(1, Math.ceil(sluiceError.retryAfterMs / 1000))));
    }
    return reply.status(sluiceError.status).send(publicBody(sluiceError, request.id));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(new SluiceError("ROUTE_NOT_FOUND", `No route ${request.method} ${request.url.split("?")[0] ?? ""}`).toJSON()),
  );
}

/** Fastify's router errors (a bad %-escape, an over-long parameter) in Sluice's error shape. */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const sluiceError = toSluiceError(err);
  void reply.status(sluiceError.status).send(sluiceError.toJSON());
}

const CLIENT_ERRORS: Record<string, ErrorCode> = { HPE_HEADER_OVERFLOW: "HEADERS_TOO_LARGE", ERR_HTTP_REQUEST_TIMEOUT: "REQUEST_TIMEOUT" };

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (431, 408, a malformed request
 * line). The socket is closed after the answer, so it says `Connection: close`: a keep-alive client
 * then opens a new connection instead of meeting ECONNRESET on its next request.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const code: ErrorCode = (err.code && CLIENT_ERRORS[err.code]) || "URL_MALFORMED";
  const error = new SluiceError(code, code === "URL_MALFORMED" ? "The request could not be parsed" : undefined);
  const body = JSON.stringify(error.toJSON());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? "Error"}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
