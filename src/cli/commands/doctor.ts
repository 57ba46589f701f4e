import { statfsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import type { Client } from "../client.ts";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

type Level = "OK" | "WARN" | "FAIL";

/** One finding: what was looked at, what was seen, and the command that fixes it. */
// A type alias, not an interface: the CLI's table() takes records.
export type Finding = {
  check: string;
  level: Level;
  evidence: string;
  fix: string;
};

interface ReadyBody {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string; maxmemory_policy?: string; configured?: boolean }>;
}

interface QueueRow {
  name: string;
  waiting: number;
  failed: number;
  paused: boolean;
  workers: number;
}

const QUEUE_WAITING_WARN = 100;
const DISK_WARN = 0.8;
const DISK_FAIL = 0.9;

async function configFinding(): Promise<Finding> {
  const { loadConfig } = await import("../../core/config.ts");
  try {
    const config = loadConfig();
    return { check: "config", level: "OK", evidence: `engine ${config.storage.databaseUrl ? "postgres" : "embedded"}, queues on ${config.queue.backend}`, fix: "" };
  } catch (err) {
    return { check: "config", level: "FAIL", evidence: (err as Error).message.replace(/\n\s*/g, "; "), fix: "fix the variables named (docs/configuration.md)" };
  }
}

/** Seed 004 §7.3 disk: > 80 % warning, > 90 % critical, on the data folder's file system. */
function diskFinding(folder: string): Finding {
  try {
    const fs = statfsSync(folder);
    const used = 1 - fs.bavail / fs.blocks;
    const level: Level = used > DISK_FAIL ? "FAIL" : used > DISK_WARN ? "WARN" : "OK";
    return { check: "disk", level, evidence: `${(used * 100).toFixed(0)}% used on the file system of ${folder}`, fix: level === "OK" ? "" : "free space: sluice audit archive, sluice clean <queue>, rotate logs; or grow the volume" };
  } catch (err) {
    return { check: "disk", level: "WARN", evidence: `cannot read ${folder}: ${(err as Error).message}`, fix: "" };
  }
}

function readyFindings(body: ReadyBody): Finding[] {
  return Object.entries(body.checks).map(([name, c]) => {
    if (name === "redis" && c.maxmemory_policy && c.maxmemory_policy !== "noeviction") {
      return { check: "redis eviction", level: "FAIL", evidence: `maxmemory-policy ${c.maxmemory_policy}`, fix: "redis-cli -u $REDIS_URL CONFIG SET maxmemory-policy noeviction" };
    }
    const evidence = c.ok ? (c.configured === false ? "not configured" : "ok") : (c.error ?? "failing");
    return { check: name, level: (c.ok ? "OK" : "FAIL"), evidence, fix: c.ok ? "" : `curl $SLUICE/health/${name}; sluice status` };
  });
}

function queueFindings(queues: QueueRow[]): Finding[] {
  return queues.map((q) => {
    if (q.waiting > 0 && q.workers === 0 && !q.paused) return { check: `queue ${q.name}`, level: "FAIL", evidence: `${q.waiting} waiting, no worker`, fix: "start a worker: sluice start --role worker" };
    if (q.waiting > QUEUE_WAITING_WARN) return { check: `queue ${q.name}`, level: "WARN", evidence: `${q.waiting} waiting (> ${QUEUE_WAITING_WARN})${q.paused ? ", paused" : ""}`, fix: q.paused ? `sluice resume ${q.name}` : "add workers, or sluice queues errors " + q.name };
    if (q.paused) return { check: `queue ${q.name}`, level: "WARN", evidence: "paused", fix: `sluice resume ${q.name}` };
    return { check: `queue ${q.name}`, level: "OK", evidence: `${q.waiting} waiting, ${q.failed} failed, ${q.workers} worker(s)`, fix: "" };
  });
}

async function serverFindings(client: Client): Promise<Finding[]> {
  let ready: { status: number; body: ReadyBody };
  try {
    ready = await client.request<ReadyBody>("GET", "/ready");
  } catch (err) {
    return [{ check: "server", level: "FAIL", evidence: (err as Error).message, fix: "start it (sluice start / sluice dev) or give --url" }];
  }
  const findings: Finding[] = [{ check: "server", level: "OK", evidence: `${client.base} answers (${ready.body.ready ? "ready" : "NOT READY"})`, fix: "" }, ...readyFindings(ready.body)];
  const queues = await client.request<QueueRow[]>("GET", "/api/queues");
  if (queues.status === 200 && Array.isArray(queues.body)) findings.push(...queueFindings(queues.body));
  else findings.push({ check: "queues", level: "WARN", evidence: `GET /api/queues answered ${queues.status}`, fix: "give an operator key (--api-key) to see the queues" });
  return findings;
}

/** Every check, in order: configuration, the data folder's disk, then what the running server reports. */
export async function runDoctor(client: Client, dataDir: string): Promise<Finding[]> {
  return [await configFinding(), diskFinding(dataDir), ...(await serverFindings(client))];
}

/** `sluice doctor`: the seeds' troubleshooting checks, each OK/WARN/FAIL with its evidence and its fix. */
export function registerDoctorCommands(program: Command): void {
  withClientOptions(program.command("doctor"))
    .description("check configuration, disk, the server's dependencies (Redis eviction policy included) and queues; exits 1 on any FAIL")
    .option("--json", "print the findings as JSON")
    .action(async (opts: ClientFlags & { json?: boolean }) => {
      const findings = await runDoctor(clientFor(opts), resolve(process.env.SLUICE_DATA_DIR ?? "."));
      console.log(opts.json ? JSON.stringify(findings, null, 2) : table(findings, ["level", "check", "evidence", "fix"]));
      if (findings.some((f) => f.level === "FAIL")) process.exitCode = 1;
    });
}
