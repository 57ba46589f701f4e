import { statfsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import type { Client } from "../client.ts";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";
import {
  DEFAULT_THRESHOLDS,
  backlogFindings,
  cacheFinding,
  llmFindings,
  scheduleFindings,
  slaFindings,
  stalledFindings,
  type DoctorThresholds,
} from "./doctor-checks.ts";

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
  /** The queue's configured thresholds (QUEUE_THRESHOLDS) and which counts are over them. */
  thresholds?: { waiting: number; failed: number };
  over?: Array<"waiting" | "failed">;
}

/** Used only when the server does not say the queue's own threshold (an older server). */
const QUEUE_WAITING_WARN = 100;
const DISK_WARN = 0.8;
const DISK_FAIL = 0.9;

async function configFinding(): Promise<Finding> {
  const { loadConfig } = await import("../../core/config.ts");
  try {
    const config = loadConfig();
    return {
      check: "config",
      level: "OK",
      evidence: `engine ${config.storage.databaseUrl ? "postgres" : "embedded"}, queues on ${config.queue.backend}`,
      fix: "",
    };
  } catch (err) {
    return {
      check: "config",
      level: "FAIL",
      evidence: (err as Error).message.replace(/\n\s*/g, "; "),
      fix: "fix the variables named (docs/configuration.md)",
    };
  }
}

/** Seed 004 §7.3 disk: > 80 % warning, > 90 % critical, on the data folder's file system. */
function diskFinding(folder: string): Finding {
  try {
    const fs = statfsSync(folder);
    const used = 1 - fs.bavail / fs.blocks;
    const level: Level = used > DISK_FAIL ? "FAIL" : used > DISK_WARN ? "WARN" : "OK";
    return {
      check: "disk",
      level,
      evidence: `${(used * 100).toFixed(0)}% used on the file system of ${folder}`,
      fix: level === "OK" ? "" : "free space: sluice audit archive, sluice clean <queue>, rotate logs; or grow the volume",
    };
  } catch (err) {
    return { check: "disk", level: "WARN", evidence: `cannot read ${folder}: ${(err as Error).message}`, fix: "" };
  }
}

function readyFindings(body: ReadyBody): Finding[] {
  return Object.entries(body.checks).map(([name, c]) => {
    if (name === "redis" && c.maxmemory_policy && c.maxmemory_policy !== "noeviction") {
      return {
        check: "redis eviction",
        level: "FAIL",
        evidence: `maxmemory-policy ${c.maxmemory_policy}`,
        fix: "redis-cli -u $REDIS_URL CONFIG SET maxmemory-policy noeviction",
      };
    }
    const evidence = c.ok ? (c.configured === false ? "not configured" : "ok") : (c.error ?? "failing");
    return { check: name, level: c.ok ? "OK" : "FAIL", evidence, fix: c.ok ? "" : `curl $SLUICE/health/${name}; sluice status` };
  });
}

function queueFindings(queues: QueueRow[]): Finding[] {
  return queues.map((q) => {
    if (q.waiting > 0 && q.workers === 0 && !q.paused)
      return {
        check: `queue ${q.name}`,
        level: "FAIL",
        evidence: `${q.waiting} waiting, no worker`,
        fix: "start a worker: sluice start --role worker",
      };
    const waitingLimit = q.thresholds?.waiting ?? QUEUE_WAITING_WARN;
    if (q.over ? q.over.includes("waiting") : q.waiting > waitingLimit)
      return {
        check: `queue ${q.name}`,
        level: "WARN",
        evidence: `${q.waiting} waiting (> ${waitingLimit})${q.paused ? ", paused" : ""}`,
        fix: q.paused ? `sluice resume ${q.name}` : "add workers, or sluice queues errors " + q.name,
      };
    if (q.over?.includes("failed") && q.thresholds)
      return {
        check: `queue ${q.name}`,
        level: "WARN",
        evidence: `${q.failed} failed (> ${q.thresholds.failed})`,
        fix: `sluice queues errors ${q.name}; then sluice retry ${q.name} or sluice clean ${q.name}`,
      };
    if (q.paused) return { check: `queue ${q.name}`, level: "WARN", evidence: "paused", fix: `sluice resume ${q.name}` };
    return { check: `queue ${q.name}`, level: "OK", evidence: `${q.waiting} waiting, ${q.failed} failed, ${q.workers} worker(s)`, fix: "" };
  });
}

async function serverFindings(client: Client, thresholds: DoctorThresholds): Promise<Finding[]> {
  let ready: { status: number; body: ReadyBody };
  try {
    ready = await client.request<ReadyBody>("GET", "/ready");
  } catch (err) {
    return [
      { check: "server", level: "FAIL", evidence: (err as Error).message, fix: "start it (sluice start / sluice dev) or give --url" },
    ];
  }
  const findings: Finding[] = [
    { check: "server", level: "OK", evidence: `${client.base} answers (${ready.body.ready ? "ready" : "NOT READY"})`, fix: "" },
    ...readyFindings(ready.body),
  ];
  const queues = await client.request<QueueRow[]>("GET", "/api/queues");
  if (queues.status === 200 && Array.isArray(queues.body)) findings.push(...queueFindings(queues.body));
  else
    findings.push({
      check: "queues",
      level: "WARN",
      evidence: `GET /api/queues answered ${queues.status}`,
      fix: "give an operator key (--api-key) to see the queues",
    });
  const names = Array.isArray(queues.body) ? queues.body.map((q) => q.name) : [];
  findings.push(
    ...(await stalledFindings(client, names)),
    ...(await backlogFindings(client, thresholds)),
    ...(await llmFindings(client, thresholds)),
  );
  findings.push(...(await cacheFinding(client, thresholds)), ...(await scheduleFindings(client)), ...(await slaFindings(client)));
  return findings;
}

/** Every check, in order: configuration, the data folder's disk, then what the running server reports. */
export async function runDoctor(client: Client, dataDir: string, thresholds: DoctorThresholds = DEFAULT_THRESHOLDS): Promise<Finding[]> {
  return [await configFinding(), diskFinding(dataDir), ...(await serverFindings(client, thresholds))];
}

function thresholdsFrom(opts: { backlogWarn: string; backlogFail: string; clockSkew: string }): DoctorThresholds {
  const n = (v: string, fallback: number): number => (Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : fallback);
  return {
    ...DEFAULT_THRESHOLDS,
    backlogWarn: n(opts.backlogWarn, DEFAULT_THRESHOLDS.backlogWarn),
    backlogFail: n(opts.backlogFail, DEFAULT_THRESHOLDS.backlogFail),
    clockSkewSeconds: n(opts.clockSkew, DEFAULT_THRESHOLDS.clockSkewSeconds),
  };
}

/** `sluice doctor`: the seeds' troubleshooting checks, each OK/WARN/FAIL with its evidence and its fix. */
export function registerDoctorCommands(program: Command): void {
  withClientOptions(program.command("doctor"))
    .description(
      "check configuration, disk, the server's dependencies (Redis eviction policy included), queues, stalled jobs, the embeddings backlog and stuck batches, breakers, provider rate limits, clock skew, cache hit rate, stale schedules and approval SLAs; exits 1 on any FAIL",
    )
    .option("--json", "print the findings as JSON")
    .option(
      "--backlog-warn <n>",
      "pending embedding items above which the backlog is a WARN (seed 000: normal < 1000)",
      String(DEFAULT_THRESHOLDS.backlogWarn),
    )
    .option("--backlog-fail <n>", "… and a FAIL (seed 000's alert: > 10000)", String(DEFAULT_THRESHOLDS.backlogFail))
    .option(
      "--clock-skew <seconds>",
      "clock difference between a process and the server worth a WARN",
      String(DEFAULT_THRESHOLDS.clockSkewSeconds),
    )
    .action(async (opts: ClientFlags & { json?: boolean; backlogWarn: string; backlogFail: string; clockSkew: string }) => {
      const findings = await runDoctor(clientFor(opts), resolve(process.env.SLUICE_DATA_DIR ?? "."), thresholdsFrom(opts));
      console.log(opts.json ? JSON.stringify(findings, null, 2) : table(findings, ["level", "check", "evidence", "fix"]));
      if (findings.some((f) => f.level === "FAIL")) process.exitCode = 1;
    });
}
