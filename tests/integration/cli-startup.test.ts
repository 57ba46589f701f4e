import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SLUICE_BIN } from "../harness/cli.ts";
import { freePort } from "../harness/servers.ts";

const trace = fileURLToPath(new URL("../fixtures/import-trace.mjs", import.meta.url));

/** The packages `sluice <args>` loads, from the import-trace hook's lines on stderr. */
function packagesLoaded(args: string[]): { status: number | null; stdout: string; packages: Set<string> } {
  const result = spawnSync(process.execPath, ["--import", trace, SLUICE_BIN, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    killSignal: "SIGKILL",
  });
  const packages = new Set([...result.stderr.matchAll(/^IMPORT (\S+)$/gm)].map((m) => m[1]!));
  return { status: result.status, stdout: result.stdout, packages };
}

/** What the server and workers need; a command that only prints or talks HTTP must not load them. */
const HEAVY = ["bullmq", "@electric-sql/pglite", "fastify", "pg", "ioredis", "openai", "@anthropic-ai/sdk", "pino", "zod"];

describe("sluice starts fast: a command loads only what it needs", () => {
  it("--help loads commander and nothing of the server", () => {
    const { status, stdout, packages } = packagesLoaded(["--help"]);
    expect(status).toBe(0);
    expect(stdout).toContain("Usage: sluice");
    expect(packages).toContain("commander"); // the trace works: it sees what is loaded
    expect(HEAVY.filter((p) => packages.has(p))).toEqual([]);
  });

  it("status talks HTTP without loading the server", async () => {
    const { status, packages } = packagesLoaded(["status", "--url", `http://127.0.0.1:${await freePort()}`]);
    expect(status).not.toBe(0); // nothing listens there
    expect(HEAVY.filter((p) => packages.has(p))).toEqual([]);
  });

  it("--version prints package.json's version", () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    const { status, stdout } = packagesLoaded(["--version"]);
    expect(status).toBe(0);
    expect(stdout.trim()).toBe(version);
  });
});
