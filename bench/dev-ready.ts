/**
 * How long `sluice dev --no-demo` takes to be ready: from spawn to the "Admin key" line, wall time
 * and the process's own CPU (utime + stime from /proc, steadier than wall on a shared machine).
 * One start on a new data folder (initdb), then --starts starts on that existing folder, each
 * stopped with SIGTERM (a clean shutdown, as an operator's restart). Runs the compiled build
 * (bin/sluice.js -> dist/, `npm run build` first).
 *
 *   npx tsx bench/dev-ready.ts [--starts 5]
 *
 * Each child runs in its own process group, killed on the way out.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { starts: { type: "string", default: "5" } } });
const STARTS = Number(values.starts);
const root = fileURLToPath(new URL("..", import.meta.url));
const CLOCK_TICKS = 100;
const children = new Set<ChildProcess>();

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

async function startOnce(dataDir: string): Promise<{ wall: number; cpu: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ["bin/sluice.js", "dev", "--no-demo"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PORT: "0", SLUICE_DATA_DIR: dataDir },
  });
  children.add(child);
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const seen = (chunk: Buffer) => {
      out += chunk.toString();
      if (/Admin key/.test(out)) resolve();
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    child.once("exit", (code) => reject(new Error(`sluice dev exited ${code}: ${out.slice(-2000)}`)));
  });
  const wall = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(child.pid!);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-child.pid!, "SIGTERM");
  await exited;
  children.delete(child);
  return { wall, cpu };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (x: number) => `${x.toFixed(2)}s`;

const dataDir = mkdtempSync(join(tmpdir(), "sluice-dev-ready-"));
try {
  const fresh = await startOnce(dataDir);
  const runs: Array<{ wall: number; cpu: number }> = [];
  for (let i = 0; i < STARTS; i++) runs.push(await startOnce(dataDir));
  const walls = runs.map((r) => r.wall);
  const cpus = runs.map((r) => r.cpu);
  console.log(
    `dev-ready --no-demo: existing folder n=${STARTS} wall median=${fmt(median(walls))} (${fmt(Math.min(...walls))}-${fmt(Math.max(...walls))}) cpu median=${fmt(median(cpus))} | new folder wall=${fmt(fresh.wall)} cpu=${fmt(fresh.cpu)} (load avg ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cpus)`,
  );
} finally {
  for (const child of children) if (child.pid) process.kill(-child.pid, "SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
}
