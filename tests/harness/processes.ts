import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Every process the tests and benchmarks start (sluice, redis-server, postgres, fixtures) goes
 * through `spawnTracked`: it runs in its own process group, so one kill(-pid) also takes its
 * children (postgres backends, `runuser`'s child), and it is registered the moment it is spawned,
 * so it dies with its test even when the setup that started it failed or timed out:
 *  - `stopAllTracked()` in every test file's afterAll (tests/harness/setup-file.ts),
 *  - a SIGKILL to every group on this process's exit, SIGINT, SIGTERM and SIGHUP, and when the
 *    vitest worker's IPC channel to its run closes (the run was killed),
 *  - a pid file per process under SLUICE_TEST_PID_DIR, which the vitest globalSetup teardown
 *    reads to kill what a worker that died hard (SIGKILL, OOM) could not.
 */
const PID_DIR_ENV = "SLUICE_TEST_PID_DIR";

interface Tracked {
  child: ChildProcess;
  /** Runs once the process is gone, however it went (e.g. removing its temp folder). */
  cleanup?: (() => void) | undefined;
  pidFile?: string | undefined;
}

interface Registry {
  tracked: Map<number, Tracked>;
}

// One registry per OS process, shared by every copy of this module (vitest re-imports modules per
// test file), so the exit and signal hooks are installed once.
const REGISTRY_KEY = Symbol.for("sluice.harness.processes");
const registry: Registry = ((globalThis as Record<symbol, Registry | undefined>)[REGISTRY_KEY] ??= installRegistry());

function installRegistry(): Registry {
  const created: Registry = { tracked: new Map() };
  process.on("exit", () => killAllTracked(created));
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      killAllTracked(created);
      process.off(signal, onSignal);
      // Keep the signal's meaning: if nobody else handles it, die of it as we would have.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
  // A vitest fork worker outlives a run killed by its pid alone (not its group) and goes on running
  // tests: its IPC channel closing is the word to stop, with everything it started.
  if (process.send)
    process.once("disconnect", () => {
      killAllTracked(created);
      process.exit(1);
    });
  return created;
}

/** Sends `signal` to the whole process group led by `pid`; false when there is none. */
function killGroup(pid: number, signal: NodeJS.Signals = "SIGKILL"): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is already gone
  }
}

/**
 * The fields of /proc/<pid>/stat after the command name, so index 0 is field 3 (the state), 1 the
 * parent pid, 2 the process group, 19 the start time; undefined once the process is gone. The
 * command name (field 2) may hold spaces and parentheses, so the fields start after its last ")".
 */
export function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** The kernel's start time of `pid` (clock ticks since boot), to tell it apart from a later process reusing the pid. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** True while `pid` is a live process (not a zombie) that started at `startTime` (when given). */
export function isRunning(pid: number, startTime?: string): boolean {
  const fields = statFields(pid);
  if (!fields || fields[0] === "Z") return false;
  return startTime === undefined || fields[19] === startTime;
}

function forget(pid: number): void {
  const entry = registry.tracked.get(pid);
  if (!entry) return;
  registry.tracked.delete(pid);
  if (entry.pidFile) rmSync(entry.pidFile, { force: true });
  entry.cleanup?.();
}

export interface TrackOptions {
  /** Runs once the process is gone (e.g. `rmSync` of its temp folder); must be synchronous. */
  cleanup?: () => void;
}

/**
 * `spawn` in a new process group, registered until it exits. An 'error' (e.g. ENOENT) is kept on
 * the child instead of crashing the process; `child.exitCode` stays null and `spawnError` says why.
 */
export function spawnTracked(
  command: string,
  args: readonly string[],
  options: SpawnOptions & TrackOptions = {},
): ChildProcess & { spawnError?: Error } {
  const { cleanup, ...spawnOptions } = options;
  const child: ChildProcess & { spawnError?: Error } = spawn(command, args, { ...spawnOptions, detached: true });
  child.on("error", (err) => {
    child.spawnError = err;
    forget(child.pid ?? -1);
  });
  const pid = child.pid;
  if (pid === undefined) return child; // failed to spawn: 'error' follows, nothing to track
  const pidDir = process.env[PID_DIR_ENV];
  const pidFile = pidDir && existsSync(pidDir) ? join(pidDir, String(pid)) : undefined;
  if (pidFile) writeFileSync(pidFile, JSON.stringify({ startTime: processStartTime(pid), command, owner: process.pid }));
  registry.tracked.set(pid, { child, cleanup, pidFile });
  // 'exit' fires when the leader is reaped; members of its group (postgres backends) may outlive it.
  child.once("exit", () => {
    killGroup(pid);
    forget(pid);
  });
  return child;
}

/** Resolves once `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Stops a tracked child's whole group: `signal` first, SIGKILL after `graceMs`. Resolves once the
 * leader has exited; the rest of its group is killed then.
 */
export async function stopTracked(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const done = exited(child);
  if (child.exitCode === null && child.signalCode === null) killGroup(pid, signal);
  const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
  try {
    await done;
  } finally {
    clearTimeout(timer);
  }
}

/** Stops every registered process group (SIGTERM, SIGKILL after `graceMs`), e.g. in afterAll. */
export async function stopAllTracked(graceMs = 5_000): Promise<void> {
  await Promise.all([...registry.tracked.values()].map((t) => stopTracked(t.child, "SIGTERM", graceMs)));
}

/** SIGKILLs every registered process group at once; synchronous, for exit and signal handlers. */
function killAllTracked(from: Registry = registry): void {
  for (const pid of [...from.tracked.keys()]) {
    killGroup(pid);
    const entry = from.tracked.get(pid);
    from.tracked.delete(pid);
    if (entry?.pidFile) rmSync(entry.pidFile, { force: true });
    try {
      entry?.cleanup?.();
    } catch {
      // best effort on the way out
    }
  }
}

/**
 * The last net, for the vitest globalSetup teardown: SIGKILLs every process group still listed in
 * `pidDir` (its owner died before it could) and returns what it killed.
 */
function killLeftovers(pidDir: string): Array<{ pid: number; command: string }> {
  if (!existsSync(pidDir)) return [];
  const killed: Array<{ pid: number; command: string }> = [];
  for (const entry of readdirSync(pidDir, { withFileTypes: true })) {
    const name = entry.name;
    if (entry.isDirectory()) {
      // A nested run's folder (tests/harness/cleanup.test.ts runs vitest inside vitest), left
      // behind because that run was killed before its own teardown.
      killed.push(...killLeftovers(join(pidDir, name)));
      rmSync(join(pidDir, name), { recursive: true, force: true });
      continue;
    }
    const pid = Number(name);
    let info: { startTime?: string; command?: string } = {};
    try {
      info = JSON.parse(readFileSync(join(pidDir, name), "utf8")) as typeof info;
    } catch {
      // a file cut short by a dying writer: the pid in its name is still worth a check
    }
    // A pid now running with another start time was reused: not ours. A dead leader's group can
    // still hold members (postgres backends), and Linux reuses no pid while its group exists.
    const reused = isRunning(pid) && !isRunning(pid, info.startTime);
    if (Number.isInteger(pid) && !reused && killGroup(pid)) killed.push({ pid, command: info.command ?? "?" });
    rmSync(join(pidDir, name), { force: true });
  }
  return killed;
}

/**
 * For a vitest globalSetup: a new pid folder, announced in SLUICE_TEST_PID_DIR to the workers
 * vitest forks after it, and the teardown that kills what is still listed there, then removes it.
 */
export function createPidNet(): { dir: string; teardown(): void } {
  // Inside another run's folder when nested, so that run's teardown is the net of this one.
  const parent = process.env[PID_DIR_ENV];
  const dir = parent && existsSync(parent) ? mkdtempSync(join(parent, "nested-")) : mkdtempSync(join(tmpdir(), "sluice-test-pids-"));
  process.env[PID_DIR_ENV] = dir;
  return {
    dir,
    teardown() {
      const leftovers = killLeftovers(dir);
      // Worth a line: a test lost track of these (its worker died before its afterAll ran).
      if (leftovers.length > 0)
        console.warn(
          `killed ${leftovers.length} process(es) left running by tests: ${leftovers.map((l) => `${l.pid} ${l.command}`).join(", ")}`,
        );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
