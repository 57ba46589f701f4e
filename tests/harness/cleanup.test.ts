import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startCli } from "./cli.ts";
import { exited, isRunning, spawnTracked, statFields, stopTracked } from "./processes.ts";
import { freePort } from "./servers.ts";
import { until } from "./wait.ts";
import type { Started } from "../fixtures/cleanup/report.ts";

/**
 * Every process a test starts dies with it, even when its setup fails, times out, or its worker
 * is killed: checked from outside, by pid (with its start time), process group and port.
 */

/** Pids of live processes (not zombies) whose /proc/<pid>/stat fields pass `match`. */
function livePids(match: (fields: string[]) => boolean): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      const fields = statFields(pid); // undefined: exited while we looked
      return fields !== undefined && fields[0] !== "Z" && match(fields);
    });
}

/** Pids of live processes in process group `pgid`. */
const groupMembers = (pgid: number): number[] => livePids((fields) => Number(fields[2]) === pgid);

/** Pids of live processes whose parent is `ppid`. */
const childrenOf = (ppid: number): number[] => livePids((fields) => Number(fields[1]) === ppid);

/** Pids of live processes whose working directory is `dir`. */
function processesIn(dir: string): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return readlinkSync(`/proc/${name}/cwd`) === dir && isRunning(Number(name));
      } catch {
        return false;
      }
    })
    .map(Number);
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

async function gone(p: Started): Promise<{ running: boolean; group: number[]; port: boolean }> {
  return { running: isRunning(p.pid, p.startTime), group: groupMembers(p.pid), port: await portAnswers(p.port) };
}

describe("process cleanup", () => {
  it("a startCli that times out kills its sluice before throwing", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "sluice-cleanup-"));
    await expect(startCli(["start", "--role", "all"], {}, await freePort(), cwd, { timeoutMs: 1 })).rejects.toThrow("did not start");
    expect(processesIn(cwd)).toEqual([]);
  });

  it("servers and sluice started by a setup that throws, times out or loses its worker are all gone after the run", async () => {
    const reports = mkdtempSync(join(tmpdir(), "sluice-cleanup-report-"));
    const vitest = fileURLToPath(new URL("../../node_modules/vitest/vitest.mjs", import.meta.url));
    const run = spawnTracked(process.execPath, [vitest, "run", "--config", "tests/fixtures/cleanup/vitest.config.ts"], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      env: { ...process.env, CLEANUP_REPORT_DIR: reports },
      stdio: "ignore",
    });
    await exited(run);
    expect(run.exitCode).not.toBe(0); // its setups failed, as they were written to
    const started = readdirSync(reports).map((f) => JSON.parse(readFileSync(join(reports, f), "utf8")) as Started);
    // Each really ran: otherwise there would be nothing to prove.
    expect(started.map((s) => s.what).sort()).toEqual(["dies-redis", "throws-postgres", "throws-redis", "throws-sluice", "timeout-redis"]);
    for (const s of started) expect(s.startTime, s.what).toBeDefined();
    // Killed processes vanish at once; the brief wait only covers the kernel reaping them.
    const states = await until(
      async () => Promise.all(started.map(async (s) => ({ what: s.what, ...(await gone(s)) }))),
      (all) => all.every((s) => !s.running && s.group.length === 0 && !s.port),
      5_000,
      "every started process gone",
    );
    expect(states.filter((s) => s.running || s.group.length > 0 || s.port)).toEqual([]);
  });

  it("a run killed by its main pid alone takes its test workers and their servers with it", async () => {
    const reports = mkdtempSync(join(tmpdir(), "sluice-cleanup-report-"));
    const vitest = fileURLToPath(new URL("../../node_modules/vitest/vitest.mjs", import.meta.url));
    // Through a shell that stays: a tracked leader's exit kills its whole group, which would take the
    // worker down for us and prove nothing.
    const config = "tests/fixtures/cleanup/vitest.config.ts";
    const shell = spawnTracked("sh", ["-c", `"${process.execPath}" "${vitest}" run --config ${config} & echo $!; exec sleep 120`], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      env: { ...process.env, CLEANUP_REPORT_DIR: reports, CLEANUP_INCLUDE: "tests/fixtures/cleanup/run-killed.alone.ts" },
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      const main = Number(await new Promise<string>((resolve) => shell.stdout!.once("data", (d: Buffer) => resolve(d.toString()))));
      const started = await until(
        async () => readdirSync(reports).map((f) => JSON.parse(readFileSync(join(reports, f), "utf8")) as Started),
        (s) => s.length === 1,
        60_000,
        "the fixture's server started",
      );
      const workers = childrenOf(main);
      expect(workers.length).toBeGreaterThan(0);
      process.kill(main, "SIGKILL"); // the main process only: no teardown of its own runs
      // Fails with the last state seen when the worker or its server lives on.
      await until(
        async () => ({ ...(await gone(started[0]!)), workers: workers.filter((pid) => isRunning(pid)) }),
        (s) => !s.running && s.group.length === 0 && !s.port && s.workers.length === 0,
        15_000,
        "the worker and its server gone",
      );
    } finally {
      await stopTracked(shell);
    }
  });
});
