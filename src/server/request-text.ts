import type { FastifyInstance, FastifyRequest } from "fastify";
import secureJson from "secure-json-parse";
import { SluiceError } from "../core/errors.ts";

/**
 * PostgreSQL text and jsonb cannot hold U+0000, and an unpaired UTF-16 surrogate has no UTF-8 form:
 * either would fail deep in a query (a 500, or an action done and its audit row lost). Sluice
 * refuses such text at the door, in every path parameter, query value, JSON key and JSON string,
 * with 400 TEXT_INVALID naming where it was found. docs/security.md states the rule.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textProblem(value: string): string | undefined {
  if (value.includes("\u0000")) return "a NUL character (U+0000)";
  if (LONE_SURROGATE.test(value)) return "an unpaired UTF-16 surrogate";
  return undefined;
}

function invalidText(where: string, problem: string): SluiceError {
  return new SluiceError("TEXT_INVALID", `${where} contains ${problem}, which Sluice cannot store`, { details: { path: where } });
}

/** The first bad string in a parsed JSON value, as a JSON pointer into the body. */
function findInvalidText(value: unknown, path: string, depth = 0): SluiceError | undefined {
  if (typeof value === "string") {
    const problem = textProblem(value);
    return problem ? invalidText(`body${path || "/"}`, problem) : undefined;
  }
  // The body limit bounds the size; this bounds the recursion a hostile nesting could cause.
  if (depth > 200 || value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findInvalidText(item, `${path}/${i}`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const keyProblem = textProblem(key);
    if (keyProblem) return invalidText(`body${path}/ (a key)`, keyProblem);
    const found = findInvalidText(item, `${path}/${key}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function parseJson(text: string): unknown {
  if (text.trim() === "") throw new SluiceError("BODY_MALFORMED", "The request body is empty; send a JSON document or no content-type");
  let parsed: unknown;
  try {
    parsed = secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
  } catch (err) {
    const poisoned = err instanceof SyntaxError && /prototype|constructor/i.test(err.message);
    throw new SluiceError(
      "BODY_MALFORMED",
      poisoned ? "The body uses a forbidden key (__proto__ or constructor.prototype)" : "The request body is not valid JSON",
      {
        cause: err,
      },
    );
  }
  const problem = findInvalidText(parsed, "");
  if (problem) throw problem;
  return parsed;
}

/**
 * JSON bodies through one parser that refuses prototype poisoning and unstorable text. curl's `-d`
 * without `-H content-type` sends `application/x-www-form-urlencoded`; the runbooks' curl lines do
 * exactly that, so a form-typed body that is a JSON document is read as JSON (a real form is 415).
 */
export function registerJsonBodies(app: FastifyInstance): void {
  app.removeContentTypeParser(["application/json"]);
  const parse = (_request: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void): void => {
    try {
      done(null, parseJson(typeof body === "string" ? body : body.toString("utf8")));
    } catch (err) {
      done(err as Error);
    }
  };
  app.addContentTypeParser("application/json", { parseAs: "string" }, parse);
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (!/^\s*[[{]/.test(text)) {
      done(
        new SluiceError(
          "UNSUPPORTED_MEDIA_TYPE",
          "Form bodies are not accepted: send JSON (curl -d '{…}' works with or without -H 'content-type: application/json')",
        ),
      );
      return;
    }
    parse(request, text, done);
  });
}

/** Rejects unstorable text in path parameters and query values before anything else runs. */
export function registerUrlTextCheck(app: FastifyInstance): void {
  app.addHook("onRequest", async (request) => {
    for (const [source, values] of [
      ["path", request.params],
      ["query", request.query],
    ] as const) {
      if (!values || typeof values !== "object") continue;
      for (const [name, value] of Object.entries(values as Record<string, unknown>)) {
        const nameProblem = textProblem(name);
        if (nameProblem) throw invalidText(`a ${source} parameter's name`, nameProblem);
        const texts = Array.isArray(value) ? value : [value];
        for (const text of texts) {
          const problem = typeof text === "string" ? textProblem(text) : undefined;
          if (problem) throw invalidText(`${source} parameter "${name}"`, problem);
        }
      }
    }
  });
}
