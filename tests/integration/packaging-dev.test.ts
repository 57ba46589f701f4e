import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SLUICE_BIN } from "../harness/cli.ts";
import { seedPgliteDataDir } from "../harness/pglite-template.ts";
import { spawnTracked, stopTracked } from "../harness/processes.ts";
import { freePort } from "../harness/servers.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

interface Started {
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<void>;
}

/** A real `sluice dev --no-demo` (or `command` wrapping it) in a fresh folder, once /ready answers 200. */
async function startDev(command: (devArgs: string[]) => [string, string[]]): Promise<Started> {
  const cwd = fileTempDir("sluice-pack-dev-");
  // The bare cluster: the README's first run applies every migration itself.
  seedPgliteDataDir(join(cwd, ".sluice", "pgdata"), { migrated: false });
  const port = await freePort();
  const [file, args] = command([SLUICE_BIN, "dev", "--no-demo"]);
  const child = spawnTracked(file, args, {
    cwd,
    env: { ...process.env, LOG_LEVEL: "info", PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const started: Started = { stdout: () => stdout, stderr: () => stderr, stop: () => stopTracked(child, "SIGTERM", 20_000) };
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${port}/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready && /Admin key sk_sluice_/.test(stdout + stderr)) return started;
    if (child.exitCode !== null || Date.now() > deadline) {
      await started.stop();
      throw new Error(`sluice dev did not become ready:\n${stdout}\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const scriptAvailable = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe("sluice dev output", () => {
  it("off a terminal: stdout is JSON log lines only, the banner goes to stderr", async () => {
    const dev = await startDev((argv) => [process.execPath, argv]);
    await dev.stop();
    const lines = dev
      .stdout()
      .split("\n")
      .filter((l) => l.trim() !== "");
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    expect(lines.map((l) => (JSON.parse(l) as { msg?: string }).msg)).toContain("sluice listening");
    expect(dev.stderr()).toContain("Sluice is running");
    expect(dev.stderr()).toMatch(/Admin key sk_sluice_/);
  }, 180_000);

  // util-linux `script` gives the command a pseudo-terminal, as a person's shell would.
  it.skipIf(!scriptAvailable)(
    "on a terminal: human log lines and the banner, no JSON",
    async () => {
      const dev = await startDev((argv) => [
        "script",
        ["-qfec", `exec ${[process.execPath, ...argv].map((a) => `'${a}'`).join(" ")}`, "/dev/null"],
      ]);
      await dev.stop();
      const text = dev.stdout();
      expect(text).toContain("Sluice is running");
      expect(text).toMatch(/INFO.*sluice listening/);
      const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
      expect(lines.filter((l) => l.trim().startsWith('{"level"'))).toEqual([]);
    },
    180_000,
  );
});
