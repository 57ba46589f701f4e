import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./servers.ts";

export const SLUICE_BIN = fileURLToPath(new URL("../../bin/sluice.js", import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `sluice` command to completion. */
export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): CliResult {
  const result = spawnSync(process.execPath, [SLUICE_BIN, ...args], { encoding: "utf8", env: { ...process.env, LOG_LEVEL: "warn", ...env }, cwd, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts a long-running `sluice` process and resolves once its HTTP port answers /health. */
export async function startCli(args: string[], env: Record<string, string>, port: number, cwd?: string): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [SLUICE_BIN, ...args], { env: { ...process.env, LOG_LEVEL: "info", ...env, PORT: String(port) }, cwd });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sluice exited early (${child.exitCode}): ${output}`);
    const up = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (up) break;
    if (Date.now() > deadline) throw new Error(`sluice did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 200));
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

/** A real `sluice dev` in a temp folder on a free port, once it has printed its admin key. */
export async function startDev(env: Record<string, string> = {}, args: string[] = ["--no-demo"]): Promise<DevServer> {
  const cwd = mkdtempSync(join(tmpdir(), "sluice-dev-"));
  const port = await freePort();
  const { child, output } = await startCli(["dev", ...args], env, port, cwd);
  const deadline = Date.now() + 30_000;
  let key: string | undefined;
  while (!key) {
    key = /Admin key (sk_sluice_\S+)/.exec(output())?.[1];
    if (key) break;
    if (Date.now() > deadline) throw new Error(`no admin key printed: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
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
      child.kill("SIGTERM");
      await waitForExit(child);
    },
  };
}
