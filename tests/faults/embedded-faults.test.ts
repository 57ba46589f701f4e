import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { seedPgliteDataDir } from "../harness/pglite-template.ts";
import { freePort } from "../harness/servers.ts";
import { sleep } from "../harness/wait.ts";
import { FAULT_SETTINGS, providerEnv, spawnSluice, stopProcess, stopStack, waitServing, type SluiceProcess } from "./fleet.ts";
import { missedTargets, ProviderLedger, underLoad, type ApiTarget } from "./load.ts";

/**
 * The embedded default (PGlite in one folder, one process) under load: a restart on the same
 * folder while the embeddings backfill runs, and a second process pointed at a folder in use.
 */
let fake: FakeProviderServer;
let ledger: ProviderLedger;

beforeAll(async () => {
  fake = await startFakeProviderServer();
  ledger = new ProviderLedger(fake);
});

const folders: string[] = [];
/** A temp folder removed after the file's processes are stopped. */
function tempFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  folders.push(dir);
  return dir;
}

afterAll(async () => {
  await stopStack({ fake });
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** The workspace `sluice dev` makes. */
const WORKSPACE = "dev";
const headers = (key: string) => ({ authorization: `Bearer ${key}`, "content-type": "application/json" });

function items(n: number, prefix: string): Array<{ id: string; text: string }> {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    text: `${prefix} item ${i}: a ${["red", "blue", "green"][i % 3]} ${["shoe", "shirt", "bag", "hat"][i % 4]}`,
  }));
}

async function ingest(target: ApiTarget, list: Array<{ id: string; text: string }>): Promise<void> {
  const res = await fetch(`${target.url}/api/workspaces/${WORKSPACE}/items`, {
    method: "PUT",
    headers: headers(target.key),
    body: JSON.stringify({ items: list }),
    signal: AbortSignal.timeout(60_000),
  });
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
}

/** Items of the workspace per status, from the backlog API; undefined while the API does not answer. */
async function itemCounts(target: ApiTarget): Promise<Record<string, number> | undefined> {
  try {
    const res = await fetch(`${target.url}/api/embeddings/backlog`, { headers: headers(target.key), signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { by_workspace: Array<{ workspace_id: string; status: string; count: number }> };
    const counts: Record<string, number> = { pending: 0, processing: 0, completed: 0, failed: 0 };
    for (const row of body.by_workspace) if (row.workspace_id === WORKSPACE) counts[row.status] = Number(row.count);
    return counts;
  } catch {
    return undefined;
  }
}

async function untilItems(
  target: ApiTarget,
  ok: (c: Record<string, number>) => boolean,
  timeoutMs: number,
): Promise<Record<string, number> | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, number> | undefined;
  while (Date.now() < deadline) {
    last = (await itemCounts(target)) ?? last;
    if (last && ok(last)) return last;
    await sleep(500);
  }
  return last;
}

/**
 * `sluice dev --no-demo` in `cwd` (its data in `cwd/.sluice`), once it serves and has printed its
 * admin key. A new folder starts from the run's PGlite template, as the harness's `startDev` does:
 * PGlite's initdb (8 s of CPU) is not the fault under test; packaging-pack tests a first start on a new folder.
 */
async function startDev(cwd: string, env: Record<string, string>, port?: number): Promise<{ proc: SluiceProcess; devKey: string }> {
  seedPgliteDataDir(join(cwd, ".sluice", "pgdata"));
  const proc = spawnSluice(["dev", "--no-demo"], env, { port: port ?? (await freePort()), cwd });
  await waitServing(proc);
  const deadline = Date.now() + 60_000;
  let devKey: string | undefined;
  while (!(devKey = /Admin key (sk_sluice_\S+)/.exec(proc.output())?.[1]) && Date.now() < deadline) await sleep(100);
  if (!devKey) throw new Error(`sluice dev printed no admin key: ${proc.output().slice(-2_000)}`);
  return { proc, devKey };
}

/** A key of the dev workspace that outlives restarts (each `sluice dev` start revokes the previous dev key). */
async function lastingKey(url: string, devKey: string): Promise<string> {
  const res = await fetch(`${url}/api/keys`, {
    method: "POST",
    headers: headers(devKey),
    body: JSON.stringify({ workspace: WORKSPACE, scopes: "jobs:read,jobs:write,admin,operator", name: "fault suite" }),
  });
  const body = (await res.json()) as { key?: string };
  if (!body.key) throw new Error(`POST /api/keys answered ${res.status}: ${JSON.stringify(body)}`);
  return body.key;
}

describe("fault suite: embedded mode (PGlite)", () => {
  it("restart on the same folder (SIGTERM, start again) with the embeddings backfill running", async () => {
    const cwd = tempFolder("sluice-faults-embedded-");
    const env = {
      ...FAULT_SETTINGS,
      ...providerEnv(fake),
      SHUTDOWN_TIMEOUT_MS: "15000",
      // Production's lock: no worker dies here, so a job that runs twice means a lock lost to a stalled PGlite.
      QUEUE_LOCK_DURATION_MS: "30000",
      QUEUE_STALLED_INTERVAL_MS: "5000",
      EMBEDDING_BACKFILL_CHUNK_SIZE: "50",
      EMBEDDING_BACKFILL_SWEEP_MS: "1000",
      EMBEDDING_BACKFILL_RETRY_DELAY_MS: "200",
    };
    const port = await freePort();
    const dev = await startDev(cwd, env, port);
    let proc = dev.proc;
    let first = proc;
    const target: ApiTarget = { url: proc.url, key: await lastingKey(proc.url, dev.devKey) };
    ledger.reset(100);
    const before = items(800, "before");
    const after = items(200, "after");
    await ingest(target, before);
    const r = await underLoad(target, ledger, { fault: "embedded-restart", jobs: 150, perSecond: 10 }, async (load) => {
      await load.untilAccepted(40);
      const mid = await untilItems(target, (c) => (c.completed ?? 0) > 0, 30_000);
      let t = Date.now();
      const exit = await stopProcess(proc, "SIGTERM");
      const stopMs = Date.now() - t;
      t = Date.now();
      first = proc;
      // `sluice start` on the folder `sluice dev` made: the same embedded instance, its other front door.
      proc = spawnSluice(["start", "--role", "all"], env, { port, cwd });
      await waitServing(proc);
      const startMs = Date.now() - t;
      // Items ingested after a restart are the ones issue 8 saw stuck in `processing`.
      await ingest(target, after);
      const total = before.length + after.length;
      t = Date.now();
      const end = await untilItems(target, (c) => c.completed === total, 90_000);
      return {
        exit: String(exit),
        stop_ms: stopMs,
        start_ms: startMs,
        items: total,
        items_done_at_stop: mid?.completed ?? -1,
        items_completed: end?.completed ?? -1,
        items_failed: end?.failed ?? -1,
        items_stuck: total - (end?.completed ?? 0) - (end?.failed ?? 0),
        backfill_after_ms: Date.now() - t,
      };
    });
    await stopProcess(proc, "SIGTERM");
    const missed = missedTargets(r);
    if (r.extra.exit !== "0") missed.push(`the first process exited ${r.extra.exit} on SIGTERM, not 0`);
    if (r.extra.items_completed !== r.extra.items)
      missed.push(
        `${r.extra.items_completed} of ${r.extra.items} items embedded (${r.extra.items_failed} failed, ${r.extra.items_stuck} stuck)`,
      );
    if (process.env.FAULTS_LOG_DIR)
      writeFileSync(join(process.env.FAULTS_LOG_DIR, "embedded-restart.log"), `${first.output()}\n----- restarted -----\n${proc.output()}`);
    expect(missed, `fault=${r.fault}`).toEqual([]);
  }, 300_000);

  it("two processes on one folder: the second refuses with DATA_DIR_LOCKED, the first keeps working", async () => {
    const cwd = tempFolder("sluice-faults-dev-");
    const env = { ...FAULT_SETTINGS, ...providerEnv(fake) };
    const { proc: first, devKey } = await startDev(cwd, env);
    const target: ApiTarget = { url: first.url, key: devKey };
    ledger.reset(100);
    let second: SluiceProcess | undefined;
    const r = await underLoad(target, ledger, { fault: "embedded-two-processes", jobs: 150, perSecond: 10 }, async (load) => {
      await load.untilAccepted(30);
      second = spawnSluice(["dev", "--no-demo"], env, { port: await freePort(), cwd });
      const timer = setTimeout(() => second?.signal("SIGKILL"), 90_000);
      const exit = await second.exited;
      clearTimeout(timer);
      const ready = await fetch(`${first.url}/ready`).then(
        (res) => res.status,
        () => 0,
      );
      return { second_exit: String(exit), first_ready: ready };
    });
    const missed = missedTargets(r);
    if (r.extra.second_exit === "0" || r.extra.second_exit === "null")
      missed.push(`the second process exited ${r.extra.second_exit}, not with an error`);
    if (!second?.output().includes("DATA_DIR_LOCKED"))
      missed.push(`the second process did not say DATA_DIR_LOCKED: ${second?.output().slice(-1_000)}`);
    if (r.extra.first_ready !== 200)
      missed.push(`the first process's /ready answered ${r.extra.first_ready} after the second one's attempt`);
    expect(missed, `fault=${r.fault}`).toEqual([]);
    expect(await stopProcess(first, "SIGTERM")).toBe(0);
  }, 240_000);
});
