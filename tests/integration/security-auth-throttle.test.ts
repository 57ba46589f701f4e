import { Writable } from "node:stream";
import { rmSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/log/pino.ts";
import { buildServer } from "../../src/server/app.ts";
import { createSluice, type Sluice } from "../../src/sluice.ts";
import { embeddedAndServers } from "../harness/databases.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

const engines = embeddedAndServers("authfail", 8);

describe.each(engines)("failed authentication is throttled and logged on $name", (engine) => {
  let sluice: Sluice;
  let app: FastifyInstance;
  let dataDir: string;
  let key: string;
  const lines: string[] = [];

  beforeAll(async () => {
    dataDir = fileTempDir("sluice-authfail-");
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => (lines.push(...chunk.toString().split("\n").filter(Boolean)), done()),
    });
    sluice = await createSluice({
      env: { SLUICE_DATA_DIR: dataDir, AUTH_FAILURES_PER_MINUTE: "5", ...(await engine.env()) },
      logger: createLogger({ level: "info", destination: sink }),
    });
    app = await buildServer(sluice);
    await sluice.intake.ensureWorkspace("ws-t", "T");
    key = (await sluice.intake.createApiKey({ workspaceId: "ws-t", scopes: ["jobs:read"] })).secret;
  });
  afterAll(async () => {
    await app?.close();
    await sluice?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const get = (secret: string, remoteAddress: string) =>
    app.inject({ method: "GET", url: "/ai/jobs", remoteAddress, headers: { authorization: `Bearer ${secret}` } });

  it("answers 401 up to the limit, then 429 with Retry-After for that address only", async () => {
    const wrong = `sk_sluice_${"x".repeat(40)}`;
    for (let i = 0; i < 5; i += 1) expect((await get(wrong, "10.0.0.9")).statusCode).toBe(401);
    const blocked = await get(wrong, "10.0.0.9");
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
    expect(Number(blocked.headers["retry-after"])).toBeGreaterThan(0);
    // Even a right key waits out the window from an address that has been guessing.
    expect((await get(key, "10.0.0.9")).statusCode).toBe(429);
    // Every other caller is unaffected.
    expect((await get(key, "10.0.0.10")).statusCode).toBe(200);
  });

  it("logs each failure with the address and route, never the key", async () => {
    const secret = `sk_sluice_${"q".repeat(40)}`;
    await get(secret, "10.0.0.11");
    const failures = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.component === "auth");
    expect(
      failures.some((l) => l.client === "10.0.0.11" && l.route === "/ai/jobs" && l.code === "UNAUTHENTICATED" && l.status === 401),
    ).toBe(true);
    expect(lines.join("\n")).not.toContain(secret);
    // The runbooks' grep for auth trouble finds them.
    expect(lines.filter((l) => /unauthorized|forbidden|401|403/i.test(l)).length).toBeGreaterThanOrEqual(failures.length);
  });
});
