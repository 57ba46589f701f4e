import { spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { seedPgliteDataDir } from "./pglite-template.ts";
import { fileTempDir } from "./temp-dirs.ts";
import { exited, spawnTracked, stopTracked } from "./processes.ts";
import { freePort } from "./servers.ts";

/** The real `sluice` command: bin/sluice.js runs the compiled build in dist/, which the vitest globalSetup keeps fresh. */
export const SLUICE_BIN = fileURLToPath(new URL("../../bin/sluice.js", import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `sluice` command to completion (killed after 60 s). */
export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): CliResult {
  const result = spawnSync(process.execPath, [SLUICE_BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    cwd,
    timeout: 60_000,
    killSignal: "SIGKILL",
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * `runCli` without blocking this process's event loop, for a command that needs a server living in
 * the test process (a fake provider) to answer meanwhile.
 */
export async function runCliAsync(args: string[], env: Record<string, string> = {}, cwd?: string, timeoutMs = 60_000): Promise<CliResult> {
  const child = spawnTracked(process.execPath, [SLUICE_BIN, ...args], { env: { ...process.env, LOG_LEVEL: "warn", ...env }, cwd });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => void stopTracked(child, "SIGKILL"), timeoutMs);
  await exited(child);
  clearTimeout(timer);
  return { status: child.exitCode, stdout, stderr };
}

export interface StartCliOptions {
  /** How long to wait for /health to answer before killing the process and failing. @default 60_000 */
  timeoutMs?: number;
}

/**
 * Starts a long-running `sluice` process and resolves once its HTTP port answers /health. If it
 * exits or does not answer in time, its process group is killed before this throws, so a failed
 * setup leaves nothing running.
 */
export async function startCli(
  args: string[],
  env: Record<string, string>,
  port: number,
  cwd?: string,
  options: StartCliOptions = {},
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawnTracked(process.execPath, [SLUICE_BIN, ...args], {
    env: { ...process.env, LOG_LEVEL: "info", ...env, PORT: String(port) },
    cwd,
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`sluice exited early (${child.exitCode ?? child.signalCode}): ${output}`);
      const up = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (Date.now() > deadline) throw new Error(`sluice did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stopTracked(child, "SIGKILL");
    throw err;
  }
  return { child, output: () => output };
}

export function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

export interface DevServer {
  child: ChildProcess;
  /** SLUICE_URL and SLUICE_API_KEY (the admin key `sluice dev` printed), for runCli. */
  env: { SLUICE_URL: string; SLUICE_API_KEY: string };
  url: string;
  key: string;
  cwd: string;
  output: () => string;
  stop(): Promise<void>;
}

export interface StartDevOptions extends StartCliOptions {
  /** Run in this folder (e.g. a previous `startDev`'s `cwd`, to restart on existing data). @default a new temp folder */
  cwd?: string;
}

/** A real `sluice dev` in a temp folder on a free port, once it has printed its admin key. */
export async function startDev(
  env: Record<string, string> = {},
  args: string[] = ["--no-demo"],
  options: StartDevOptions = {},
): Promise<DevServer> {
  const cwd = options.cwd ?? fileTempDir("sluice-dev-");
  // A new folder starts from the run's PGlite template (the default ./.sluice/pgdata), not initdb.
  if (!options.cwd && !env.DATABASE_URL && !env.SLUICE_DATA_DIR) seedPgliteDataDir(join(cwd, ".sluice", "pgdata"));
  const port = await freePort();
  const { child, output } = await startCli(["dev", ...args], env, port, cwd, options);
  const deadline = Date.now() + 30_000;
  let key: string | undefined;
  while (!key) {
    key = /Admin key (sk_sluice_\S+)/.exec(output())?.[1];
    if (key) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stopTracked(child, "SIGKILL");
      throw new Error(`no admin key printed: ${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    env: { SLUICE_URL: url, SLUICE_API_KEY: key },
    url,
    key,
    cwd,
    output,
    async stop() {
      await stopTracked(child, "SIGTERM", 30_000);
    },
  };
}
