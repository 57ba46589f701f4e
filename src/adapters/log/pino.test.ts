import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./pino.ts";

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join("")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("the JSON logger", () => {
  it("writes one JSON object per line with level, time and the service", () => {
    const out = capture();
    createLogger({ level: "info", destination: out.stream }).child({ component: "test" }).info({ queue: "ai-jobs" }, "hello");
    expect(out.lines()[0]).toMatchObject({ level: 30, service: "sluice", component: "test", queue: "ai-jobs", msg: "hello" });
    expect(typeof out.lines()[0]?.time).toBe("string");
  });

  it("redacts keys, tokens, passwords, authorization headers and connection strings", () => {
    const out = capture();
    const secrets = {
      apiKey: "sk-live-1",
      config: { password: "hunter2", databaseUrl: "postgres://u:p@h/db", redisUrl: "redis://:p@h" },
      req: { headers: { authorization: "Bearer sk_sluice_secret", "x-api-key": "sk_sluice_other" } },
      token: "t0k3n",
    };
    createLogger({ level: "info", destination: out.stream }).info(secrets, "request");
    const text = JSON.stringify(out.lines()[0]);
    for (const secret of ["sk-live-1", "hunter2", "u:p@h", ":p@h", "sk_sluice_secret", "sk_sluice_other", "t0k3n"])
      expect(text).not.toContain(secret);
    expect(text).toContain("[redacted]");
  });

  it("writes human lines, still redacted, when asked for pretty output", () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    createLogger({ level: "info", destination: stream, pretty: true })
      .child({ component: "server" })
      .info({ apiKey: "sk-live-2", queue: "ai-jobs" }, "sluice listening");
    const text = chunks.join("");
    expect(text).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: sluice listening\n/);
    expect(text).toContain('queue: "ai-jobs"');
    expect(text).not.toContain("sk-live-2");
    expect(() => JSON.parse(text)).toThrow();
  });
});
