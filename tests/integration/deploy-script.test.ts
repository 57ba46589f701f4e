import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SLUICE_BIN, startCli, startDev, type DevServer } from "../harness/cli.ts";
import { exited, isRunning, spawnTracked, stopTracked } from "../harness/processes.ts";

/**
 * Seed 004 §8.2's deploy (backup, pause, migrate, deploy, restart, smoke test, resume) as
 * ops/deploy/deploy.sh, run for real against an embedded `sluice dev` that RESTART_CMD stops
 * (SIGTERM); the test plays the supervisor (systemd) that starts it again on the same folder.
 */
const SCRIPT = new URL("../../ops/deploy/deploy.sh", import.meta.url).pathname;

let dev: DevServer;
let restarted: { child: ChildProcess } | undefined;

beforeAll(async () => {
  dev = await startDev();
});

afterAll(async () => {
  await dev?.stop();
  if (restarted) await stopTracked(restarted.child, "SIGTERM", 30_000);
});

/**
 * RESTART_CMD stops the server (SIGTERM, as systemd does) and asks the test, standing in for the
 * supervisor, to start it again on the same folder and port; it returns once that one answers.
 */
function restartCommand(): string {
  return `kill -TERM ${dev.child.pid}; while kill -0 ${dev.child.pid} 2>/dev/null; do sleep 0.2; done; touch ${dev.cwd}/restart-wanted; while [ ! -f ${dev.cwd}/restarted ]; do sleep 0.2; done`;
}

/** The supervisor's half of the restart: a new `sluice dev` once the old one is gone. */
async function superviseRestart(port: number): Promise<void> {
  while (!existsSync(join(dev.cwd, "restart-wanted"))) await new Promise((r) => setTimeout(r, 200));
  restarted = await startCli(["dev", "--no-demo"], {}, port, dev.cwd);
  writeFileSync(join(dev.cwd, "restarted"), "");
}

async function runScript(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const child = spawnTracked("bash", [SCRIPT], {
    env: { ...process.env, ...dev.env, SLUICE: `${process.execPath} ${SLUICE_BIN}`, BACKUP_DIR: dev.cwd, ...env },
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  await exited(child);
  return { code: child.exitCode, out };
}

async function queues(): Promise<Array<{ name: string; paused: boolean }>> {
  const get = () => fetch(`${dev.url}/api/queues`, { headers: { authorization: `Bearer ${dev.key}` } });
  // The pool's kept-alive socket may still be the one to the process the deploy stopped: one retry.
  const res = await get().catch(get);
  return (await res.json()) as Array<{ name: string; paused: boolean }>;
}

describe("ops/deploy/deploy.sh on the embedded engine", () => {
  it("backs up, pauses, restarts, smoke-checks and resumes; a failed check leaves the queues paused", async () => {
    const firstPid = dev.child.pid as number;

    const failed = await runScript({ RESTART_CMD: "true", EXPECT_VERSION: "0.0.0-not-this-one", DEPLOY_WAIT_S: "5" });
    expect(failed.code, failed.out).not.toBe(0);
    expect(failed.out).toContain("expected 0.0.0-not-this-one");
    expect(failed.out).toContain("the queues stay paused");
    expect((await queues()).every((q) => q.paused)).toBe(true);

    const supervisor = superviseRestart(Number(new URL(dev.url).port));
    const ok = await runScript({
      RESTART_CMD: restartCommand(),
      EXPECT_VERSION: ((await (await fetch(`${dev.url}/health`)).json()) as { version: string }).version,
      SMOKE_TYPE: "classify",
    });
    await supervisor;
    expect(ok.code, ok.out).toBe(0);
    for (const step of [
      "1/7 backup",
      "2/7 pause",
      "4/7 migrate",
      "5/7 restart",
      "6/7 smoke check",
      "7/7 resume",
      "classify job end to end",
    ])
      expect(ok.out).toContain(step);
    expect(ok.out).toMatch(/smoke job\s+OK\s+classify \S+ completed/);
    expect(readdirSync(dev.cwd).filter((f) => f.startsWith("sluice-pre-deploy-") && f.endsWith(".tar.gz")).length).toBe(2);

    // The process that answers now is a new one, on the same folder and key, with every queue resumed.
    await exited(dev.child);
    expect(isRunning(firstPid)).toBe(false);
    expect(restarted?.child.exitCode).toBeNull();
    const now = await queues();
    expect(now.length).toBeGreaterThan(0);
    expect(now.filter((q) => q.paused).map((q) => q.name)).toEqual([]);
  });
});
