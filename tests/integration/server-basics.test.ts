import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

const LINT_ALLOWED = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
  "ai_queue_depth_total",
];

describe("HTTP basics on embedded PGlite", () => {
  let t: TestSluice;
  beforeAll(async () => {
    t = await startTestSluice();
  });
  afterAll(async () => {
    await t.close();
  });

  it("answers liveness", async () => {
    const res = await t.app.inject({ method: "GET", url: "/health" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: "healthy" });
  });

  it("answers liveness under runbook 002's path too", async () => {
    const res = await t.app.inject({ method: "GET", url: "/api/v1/health" });
    expect(res.json()).toMatchObject({ status: "healthy" });
  });

  it("is ready with a db check, in the runbook shape", async () => {
    const res = await t.app.inject({ method: "GET", url: "/ready" });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ ready: boolean; checks: Record<string, { ok: boolean }> }>();
    expect(body.ready).toBe(true);
    expect(body.checks.db).toMatchObject({ ok: true, connected: true, engine: "pglite" });
  });

  it("answers /health/db with connected: true", async () => {
    const res = await t.app.inject({ method: "GET", url: "/health/db" });
    expect(res.json()).toMatchObject({ connected: true });
  });

  it("answers an unknown route with a JSON 404 and a stable code", async () => {
    const res = await t.app.inject({ method: "GET", url: "/no/such/route?x=1" });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toContain("application/json");
    expect(res.json()).toEqual({ error: { code: "ROUTE_NOT_FOUND", message: "No route GET /no/such/route" } });
  });

  it("exposes Prometheus metrics labelled by route template", async () => {
    await t.app.inject({ method: "GET", url: "/health/db" });
    const res = await t.app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(
      'http_requests_total{method="GET",route="/health/:dependency",path="/health/:dependency",status="200",status_class="2xx"}',
    );
    expect(res.body).toContain("http_request_duration_seconds_bucket");
    expect(res.body).toContain("process_cpu_user_seconds_total");
    expect(res.body).not.toContain('route="/health/db"');
  });

  it("passes promtool check metrics", async (ctx) => {
    const which = spawnSync("sh", ["-c", "command -v promtool"]);
    if (which.status !== 0) return ctx.skip();
    const res = await t.app.inject({ method: "GET", url: "/metrics" });
    const file = join(fileTempDir("promtool-"), "metrics.txt");
    writeFileSync(file, res.body);
    const check = spawnSync("sh", ["-c", `promtool check metrics < ${file}`], { encoding: "utf8" });
    // Exit 1 is a format error; exit 3 is lint findings, allowed only for names that are not ours to
    // change: prom-client's process gauges and the runbooks' contract names (see docs/metrics.md).
    expect(check.status, check.stdout + check.stderr).not.toBe(1);
    const findings = `${check.stdout}${check.stderr}`.split("\n").filter((l) => l.trim().length > 0);
    const unexpected = findings.filter((line) => !LINT_ALLOWED.some((name) => line.startsWith(`${name} `)));
    expect(unexpected).toEqual([]);
  });

  it("serves OpenAPI at /docs", async () => {
    const res = await t.app.inject({ method: "GET", url: "/docs/json" });
    expect(res.statusCode).toBe(200);
    expect(res.json().paths["/ready"]).toBeDefined();
  });
});
