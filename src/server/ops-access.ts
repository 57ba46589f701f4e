import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { SluiceError } from "../core/errors.ts";
import type { Intake } from "../pipeline/intake/index.ts";
import type { SluiceConfig } from "../core/config.ts";
import { logAuthFailure, presentedKey } from "./auth.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Set when the caller may see only whether Sluice is ready, not each dependency's details. */
    readySummaryOnly?: boolean;
  }
}

type OpsEndpoint = "ops" | "docs" | "ready";

/** `/health` stays open to anyone: a liveness probe must never need a secret. */
function endpointOf(path: string): OpsEndpoint | undefined {
  if (path === "/metrics" || path.startsWith("/health/")) return "ops";
  if (path === "/ready") return "ready";
  if (path === "/docs" || path.startsWith("/docs/")) return "docs";
  return undefined;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Metrics, the API document and the detailed health views tell an attacker what runs and how it is
 * doing. They are open to callers on the machine itself, to Prometheus with METRICS_TOKEN and to
 * operator keys; OPS_ENDPOINTS=open and DOCS_ENABLED=true open them to every caller on purpose.
 */
export function registerOpsAccess(app: FastifyInstance, deps: { config: SluiceConfig; intake: Intake }): void {
  const { ops } = deps.config;

  async function privileged(request: FastifyRequest): Promise<boolean> {
    if (LOOPBACK.has(request.ip)) return true;
    const secret = presentedKey(request);
    if (!secret) return false;
    if (ops.metricsToken && sameSecret(secret, ops.metricsToken)) return true;
    try {
      return deps.intake.hasScope(await deps.intake.authenticate(secret, request.ip), "operator");
    } catch (err) {
      logAuthFailure(request, err);
      if (err instanceof SluiceError && err.code === "RATE_LIMITED") throw err;
      return false;
    }
  }

  app.addHook("onRequest", async (request) => {
    const endpoint = endpointOf(request.url.split("?")[0] ?? "");
    if (!endpoint) return;
    if (endpoint === "docs") {
      if (ops.docs === "true" || (await privileged(request))) return;
      throw new SluiceError("UNAUTHENTICATED", "/docs is served to loopback callers and operator keys (DOCS_ENABLED=true opens it)");
    }
    if (ops.endpoints === "open" || (await privileged(request))) return;
    if (endpoint === "ready") {
      request.readySummaryOnly = true;
      return;
    }
    throw new SluiceError(
      "UNAUTHENTICATED",
      "This endpoint needs METRICS_TOKEN or an operator key from outside the machine (OPS_ENDPOINTS=open opens it)",
    );
  });

  // /ready keeps its status code and `ready` for load balancers; only the per-check details go.
  app.addHook("onSend", async (request, _reply, payload) => {
    if (!request.readySummaryOnly || typeof payload !== "string") return payload;
    const report = JSON.parse(payload) as { ready?: boolean; checks?: Record<string, { ok?: boolean }> };
    const checks = Object.fromEntries(Object.entries(report.checks ?? {}).map(([name, check]) => [name, { ok: check.ok === true }]));
    return JSON.stringify({ ready: report.ready === true, checks });
  });
}
