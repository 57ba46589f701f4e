import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Sluice } from "../../sluice.ts";
import { exitOnSignals, serve } from "../serve.ts";
import { runDemo } from "./demo.ts";

const DEV_WORKSPACE = "dev";
const DEV_KEY_NAME = "sluice dev";

/** Where the dev key is kept between runs: in the data folder it opens, readable by its owner only. */
const DEV_KEY_FILE = "dev-admin-key";

async function stillValid(sluice: Pick<Sluice, "intake">, secret: string): Promise<boolean> {
  try {
    await sluice.intake.authenticate(secret);
    return true;
  } catch {
    return false;
  }
}

/**
 * The embedded dev instance gets a `dev` workspace and an operator key, kept in
 * `<SLUICE_DATA_DIR>/dev-admin-key` so that restarting `sluice dev` on the same folder keeps the key
 * an operator exported. A missing or revoked one is replaced, and older dev keys are revoked
 * so they don't pile up.
 */
async function devAdminKey(sluice: Pick<Sluice, "config" | "intake">): Promise<string> {
  await sluice.intake.ensureWorkspace(DEV_WORKSPACE, "Development");
  const file = join(sluice.config.storage.dataDir, DEV_KEY_FILE);
  const saved = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
  if (saved && (await stillValid(sluice, saved))) return saved;
  for (const key of await sluice.intake.listApiKeys(DEV_WORKSPACE)) {
    if (key.name === DEV_KEY_NAME) await sluice.intake.revokeApiKey(key.id);
  }
  const created = await sluice.intake.createApiKey({
    workspaceId: DEV_WORKSPACE,
    scopes: ["jobs:read", "jobs:write", "admin", "operator"],
    name: DEV_KEY_NAME,
  });
  mkdirSync(sluice.config.storage.dataDir, { recursive: true });
  writeFileSync(file, `${created.secret}\n`, { mode: 0o600 });
  return created.secret;
}

/** Writes one line of human output. */
type Say = (line: string) => void;

/**
 * On a terminal, logs are pretty and the banner shares stdout with them. Otherwise stdout carries
 * only JSON log lines (a log shipper parses every line), so the banner and the demo go to stderr.
 */
function humanOutput(stdoutIsTerminal: boolean): Say {
  const stream = stdoutIsTerminal ? process.stdout : process.stderr;
  return (line) => void stream.write(`${line}\n`);
}

function printBanner(say: Say, sluice: Pick<Sluice, "config" | "store">, url: string, key: string): void {
  say(`\nSluice is running (embedded: ${sluice.store.kind}, data in ${sluice.config.storage.dataDir})`);
  say(`  API       ${url}`);
  say(`  Ready     ${url}/ready`);
  say(`  Metrics   ${url}/metrics`);
  say(`  API docs  ${url}/docs`);
  say(`  Queues    ${url}/admin/queues  (password: the operator key below)`);
  say(`  Admin key ${key}   (workspace "${DEV_WORKSPACE}"; export SLUICE_API_KEY=${key})`);
}

/** `sluice dev`: everything in one process, a fresh operator key, the URLs, and the demo unless `--no-demo`. */
export async function runDev(flags: { demo: boolean }): Promise<void> {
  const terminal = process.stdout.isTTY === true;
  const say = humanOutput(terminal);
  const running = await serve("all", process.env, { prettyLogs: terminal });
  exitOnSignals(running);
  const key = await devAdminKey(running.sluice);
  printBanner(say, running.sluice, running.url.replace("127.0.0.1", "localhost"), key);
  if (flags.demo) await runDemo(running.sluice, running.url, key, say);
  say("\nStop with Ctrl-C.");
}
