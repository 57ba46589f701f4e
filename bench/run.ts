/**
 * Runs every benchmark with its bounded defaults, one after another (they would only compete for
 * the same two cores in parallel), passing its output through. `npm run bench [-- name ...]`.
 *
 * Each benchmark stops its own servers and children on success, failure and SIGINT (they start them
 * through tests/harness/processes.ts). This runner keeps the benchmark in its own process group, so a
 * Ctrl-C reaches both; a SIGTERM or SIGHUP sent to this runner alone is passed on, and the runner
 * exits only once the benchmark has cleaned up and exited.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();

let stopping: NodeJS.Signals | undefined;

function runOne(file: string): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", `${dir}${file}`], { stdio: "inherit" });
  const forward = (signal: NodeJS.Signals): void => {
    stopping = signal;
    // SIGINT from a terminal already reached the child (same group); anything else is passed on.
    if (signal !== "SIGINT") child.kill(signal);
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, forward);
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      for (const s of signals) process.off(s, forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

let failed = 0;
for (const file of files) {
  if (stopping) break;
  console.log(`\n== bench/${file} ==`);
  if ((await runOne(file)) !== 0) failed += 1;
}
process.exit(stopping ? 130 : failed > 0 ? 1 : 0);
