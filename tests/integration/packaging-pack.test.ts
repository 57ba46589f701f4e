import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { spawnTracked, stopTracked } from "../harness/processes.ts";
import { freePort } from "../harness/servers.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

/**
 * What a user does: `npm pack` here, then `npm install <tarball>` in an empty folder elsewhere.
 * Returns the folder and what npm printed (its warnings are on stderr).
 */
function packAndInstall(work: string): { app: string; npmOutput: string } {
  // dist/ is fresh (the vitest globalSetup built it); `prepare` would only build it again.
  const packed = JSON.parse(
    execFileSync(NPM, ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: ROOT, encoding: "utf8" }),
  ) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const tarball = join(work, packed[0]?.filename ?? "");
  const app = join(work, "app");
  execFileSync("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "sluice-user", private: true }));
  // `--loglevel warn` whatever the caller's npm config says, so an engine warning cannot be hidden.
  const install = spawnSync(NPM, ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel", "warn", tarball], {
    cwd: app,
    encoding: "utf8",
    timeout: 540_000,
  });
  const npmOutput = `${install.stdout}${install.stderr}`;
  if (install.status !== 0) throw new Error(`npm install of the packed tarball failed:\n${npmOutput}`);
  return { app, npmOutput };
}

describe("the npm package", () => {
  const work = fileTempDir("sluice-pack-");
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("installs into a clean folder, says its version, and runs sluice dev until /ready answers", async () => {
    const { app, npmOutput } = packAndInstall(work);
    // Sluice supports Node 20: its dependencies pin the last Node-20 releases of the packages whose
    // newest ones want Node 22, since a user's install ignores our package.json `overrides`.
    expect(npmOutput).not.toContain("EBADENGINE");
    const bin = join(app, "node_modules", ".bin", "sluice");
    expect(readdirSync(join(app, "node_modules", "sluice"))).toEqual(
      expect.arrayContaining(["bin", "dist", "migrations", "LICENSE", "package.json"]),
    );
    expect(execFileSync(bin, ["--version"], { cwd: app, encoding: "utf8" }).trim()).toBe(VERSION);

    const port = await freePort();
    const child = spawnTracked(bin, ["dev", "--no-demo"], {
      cwd: app,
      env: { ...process.env, PORT: String(port), LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    try {
      const deadline = Date.now() + 120_000;
      let ready: { ready?: boolean } | undefined;
      while (!ready?.ready) {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`sluice dev from the package did not become ready:\n${output}`);
        await new Promise((r) => setTimeout(r, 500));
        ready = await fetch(`http://127.0.0.1:${port}/ready`).then(
          (r) => r.json() as Promise<{ ready?: boolean }>,
          () => undefined,
        );
      }
      expect(ready.ready).toBe(true);
      // It ran from the installed copy, with its data in the user's folder.
      expect(readdirSync(join(app, ".sluice"))).toContain("pgdata");
    } finally {
      await stopTracked(child, "SIGTERM", 20_000);
    }
  }, 600_000);
});
