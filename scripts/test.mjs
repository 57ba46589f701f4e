#!/usr/bin/env node
// The whole test suite: lint, formatting, unused code, typecheck, then every test against real Redis and PostgreSQL.
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

// The static checks share no state: run at once they take the time of the longest (eslint), not
// of all four; their output is printed whole, one check after another, in this order.
const checks = [
  ["lint", ["npx", "eslint", "."]],
  ["format", ["npx", "prettier", "--check", "."]],
  ["unused", ["npx", "knip"]],
  ["typecheck", ["npx", "tsc", "-p", "tsconfig.json", "--noEmit"]],
];
const selected = (name) => !process.env.SLUICE_TEST_ONLY || process.env.SLUICE_TEST_ONLY === name;

function runCaptured(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const chunks = [];
    child.stdout.on("data", (d) => chunks.push(d));
    child.stderr.on("data", (d) => chunks.push(d));
    child.on("error", (err) => resolve({ status: 1, output: String(err) }));
    child.on("close", (status) => resolve({ status, output: Buffer.concat(chunks).toString() }));
  });
}

const started = checks.filter(([name]) => selected(name)).map(([name, [cmd, ...args]]) => [name, runCaptured(cmd, args)]);
for (const [name, running] of started) {
  const { status, output } = await running;
  console.log(`\n== ${name} ==`);
  process.stdout.write(output);
  if (status !== 0) {
    console.error(`\n${name} failed`);
    process.exit(status ?? 1);
  }
}

if (selected("tests")) {
  console.log("\n== tests ==");
  const result = spawnSync("npx", ["vitest", "run", ...process.argv.slice(2)], { stdio: "inherit" });
  if (result.status !== 0) {
    console.error("\ntests failed");
    process.exit(result.status ?? 1);
  }
}
