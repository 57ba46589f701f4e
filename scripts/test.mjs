#!/usr/bin/env node
// The whole test suite: lint, formatting, unused code, typecheck, then every test against real Redis and PostgreSQL.
// Installs the Debian packages the tests need when it can (root), else names them and stops.
import { execFileSync, spawnSync } from "node:child_process";
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

const steps = [
  ["lint", ["npx", "eslint", "."]],
  ["format", ["npx", "prettier", "--check", "."]],
  ["unused", ["npx", "knip"]],
  ["typecheck", ["npx", "tsc", "-p", "tsconfig.json", "--noEmit"]],
  ["tests", ["npx", "vitest", "run", ...process.argv.slice(2)]],
];
for (const [name, [cmd, ...args]] of steps) {
  if (process.env.SLUICE_TEST_ONLY && process.env.SLUICE_TEST_ONLY !== name) continue;
  console.log(`\n== ${name} ==`);
  const result = spawnSync(cmd, args, { stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`\n${name} failed`);
    process.exit(result.status ?? 1);
  }
}
