#!/usr/bin/env node
// The whole test suite: every test against real Redis and PostgreSQL, with lint, formatting, unused code and typecheck beside it.
// Installs the Debian packages the tests need when it can (root), else names them and stops.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";

const needs = [
  { pkg: "redis-server", present: () => commandExists("redis-server") },
  {
    pkg: "postgresql",
    present: () =>
      existsSync("/usr/lib/postgresql") &&
      readdirSync("/usr/lib/postgresql").some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)),
  },
  { pkg: "prometheus", present: () => commandExists("promtool") },
];

function commandExists(name) {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

const missing = needs.filter((n) => !n.present()).map((n) => n.pkg);
if (missing.length > 0) {
  if (process.getuid?.() === 0 && commandExists("apt-get")) {
    console.log(`Installing test dependencies from apt: ${missing.join(" ")}`);
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  } else {
    console.error(`The tests need these Debian packages: ${missing.join(" ")}. Install them: sudo apt-get install -y ${missing.join(" ")}`);
    process.exit(1);
  }
}

// The static checks share no state with each other or with the tests, and run while the tests run,
// at idle CPU priority: on 2 cores the suite leaves part of the CPU idle (waiting on servers, timers
// and restarts), which the checks take. Measured: the test step took 773 s with them beside it and
// 723 s alone, where before it they took about 60 s; at normal priority beside it (5e41382) it took
// 952 s against 777 s. Their output is printed whole after the tests, one check after another.
const checks = [
  ["lint", ["npx", "eslint", "."]],
  ["format", ["npx", "prettier", "--check", "."]],
  ["unused", ["npx", "knip"]],
  ["typecheck", ["npx", "tsc", "-p", "tsconfig.json", "--noEmit"]],
];
const selected = (name) => !process.env.SLUICE_TEST_ONLY || process.env.SLUICE_TEST_ONLY === name;
// SCHED_IDLE (util-linux's chrt) runs a process only on a core nothing else wants; nice 19 where
// chrt is missing or the machine refuses the policy (a sandbox may).
const idlePriority =
  spawnSync("chrt", ["--idle", "0", "true"], { stdio: "ignore" }).status === 0 ? ["chrt", "--idle", "0"] : ["nice", "-n", "19"];

function runCaptured(cmd, args) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const chunks = [];
    child.stdout.on("data", (d) => chunks.push(d));
    child.stderr.on("data", (d) => chunks.push(d));
    const done = (status, output) => resolve({ status, output, seconds: Math.round((Date.now() - started) / 1000) });
    child.on("error", (err) => done(1, String(err)));
    child.on("close", (status) => done(status, Buffer.concat(chunks).toString()));
  });
}

function runInherited(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: "inherit" });
    child.on("error", () => resolve(1));
    child.on("close", (status) => resolve(status ?? 1));
  });
}

const [priorityCmd, ...priorityArgs] = idlePriority;
const started = checks.filter(([name]) => selected(name)).map(([name, cmd]) => [name, runCaptured(priorityCmd, [...priorityArgs, ...cmd])]);
const failed = [];
if (selected("tests")) {
  console.log("\n== tests ==");
  if ((await runInherited("npx", ["vitest", "run", ...process.argv.slice(2)])) !== 0) failed.push("tests");
}
for (const [name, running] of started) {
  const { status, output, seconds } = await running;
  console.log(`\n== ${name} (${seconds} s) ==`);
  process.stdout.write(output);
  if (status !== 0) failed.push(name);
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(", ")}`);
  process.exit(1);
}
