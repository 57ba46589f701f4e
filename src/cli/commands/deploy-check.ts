import type { Command } from "commander";
import { ApiError, type Client } from "../client.ts";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface DeployCheckFlags extends ClientFlags {
  wait: string;
  expectVersion?: string;
  smoke?: string;
  smokeInput: string;
}

type Check = {
  check: string;
  state: "OK" | "FAIL" | "INFO";
  detail: string;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls /ready until it answers 200 or the deadline passes: a restarted fleet takes a moment. */
async function waitReady(client: Client, deadline: number): Promise<Check> {
  let last = "no answer";
  for (;;) {
    try {
      const { status, body } = await client.request<{ ready?: boolean; checks?: Record<string, { ok: boolean; error?: string }> }>(
        "GET",
        "/ready",
      );
      if (status === 200) return { check: "ready", state: "OK", detail: "every dependency answers" };
      const failing = Object.entries(body.checks ?? {})
        .filter(([, c]) => !c.ok)
        .map(([name, c]) => `${name}${c.error ? ` (${c.error})` : ""}`);
      last = `HTTP ${status}: ${failing.join(", ") || "not ready"}`;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      last = err.message;
    }
    if (Date.now() >= deadline) return { check: "ready", state: "FAIL", detail: last };
    await sleep(500);
  }
}

async function checkVersion(client: Client, expected: string | undefined): Promise<Check> {
  const health = await client.call<{ version?: string }>("GET", "/health");
  if (!expected) return { check: "version", state: "INFO", detail: `running ${health.version ?? "unknown"}` };
  return health.version === expected
    ? { check: "version", state: "OK", detail: `running ${expected}` }
    : { check: "version", state: "FAIL", detail: `running ${health.version ?? "unknown"}, expected ${expected}` };
}

async function checkQueues(client: Client): Promise<Check[]> {
  const queues = await client.call<Array<{ name: string; paused?: boolean; failed?: number; waiting?: number }>>("GET", "/api/queues");
  const paused = queues.filter((q) => q.paused).map((q) => q.name);
  return [
    { check: "queues", state: "OK", detail: `${queues.length} queues answer` },
    // Paused is expected mid-deploy (the sequence resumes them last); said, not failed.
    {
      check: "paused",
      state: "INFO",
      detail: paused.length > 0 ? `paused: ${paused.join(", ")} (resume with: sluice queues resume --all)` : "none",
    },
  ];
}

/** Submits one job and waits for it: the whole path (intake, queue, worker, provider) after a deploy. */
async function smokeJob(client: Client, type: string, input: unknown, deadline: number): Promise<Check> {
  const submitted = await client.call<{ id: string }>("POST", "/ai/jobs", { type, input, client_request_id: `deploy-check-${Date.now()}` });
  for (;;) {
    const job = await client.call<{ status: string; error: string | null }>("GET", `/ai/jobs/${encodeURIComponent(submitted.id)}`);
    if (job.status === "completed") return { check: "smoke job", state: "OK", detail: `${type} ${submitted.id} completed` };
    if (job.status === "failed")
      return { check: "smoke job", state: "FAIL", detail: `${type} ${submitted.id} failed: ${job.error ?? "no reason given"}` };
    if (Date.now() >= deadline)
      return { check: "smoke job", state: "FAIL", detail: `${type} ${submitted.id} still ${job.status} (paused queues or no worker?)` };
    await sleep(500);
  }
}

/**
 * `sluice deploy-check`: the smoke check of a deploy (seed 004 §8.2 step 6 and §8.3): waits for
 * readiness, checks the version that answers, reads the queues, and with --smoke runs one job end
 * to end. Exit 0 when every check passes, 1 when one fails (the deploy script stops there).
 */
export function registerDeployCheckCommand(program: Command): void {
  withClientOptions(program.command("deploy-check"))
    .description(
      "after a restart: wait for readiness, check the version, the queues and (--smoke) one job end to end; exits 1 on a failed check",
    )
    .option("--wait <seconds>", "how long to wait for readiness and for the smoke job", "60")
    .option("--expect-version <version>", "fail unless /health reports this version")
    .option("--smoke <type>", "submit one job of this type and wait for it to complete (the queues must be resumed)")
    .option("--smoke-input <json>", "the smoke job's input", '{"text": "deploy check"}')
    .action(async (flags: DeployCheckFlags) => {
      const client = clientFor(flags);
      const deadline = Date.now() + Number(flags.wait) * 1000;
      const checks: Check[] = [await waitReady(client, deadline)];
      if (checks[0]?.state === "OK") {
        checks.push(await checkVersion(client, flags.expectVersion), ...(await checkQueues(client)));
        if (flags.smoke) checks.push(await smokeJob(client, flags.smoke, JSON.parse(flags.smokeInput) as unknown, deadline));
      }
      console.log(table(checks, ["check", "state", "detail"]));
      process.exitCode = checks.some((c) => c.state === "FAIL") ? 1 : 0;
    });
}
