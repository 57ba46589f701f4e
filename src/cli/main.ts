// Only what every command needs is imported here. Each action imports its own machinery (BullMQ,
// PGlite, Fastify, drivers) when it runs, so `sluice --help` or `sluice status` starts in a
// fraction of a second instead of loading the whole server.
import { Command, Option } from "commander";
import { ApiError } from "./client.ts";
import { SluiceError } from "../core/errors.ts";
import { registerBackupCommands } from "./commands/backup.ts";
import { registerKeyCommands } from "./commands/keys.ts";
import { registerQueueCommands } from "./commands/queues.ts";
import { registerAlertCommands } from "./commands/alerts.ts";
import { registerWorkerCommands } from "./commands/workers.ts";
import { registerFlagCommands } from "./commands/flags.ts";
import { registerCacheCommands } from "./commands/cache.ts";
import { registerUsageCommands } from "./commands/usage.ts";
import { registerEmbeddingCommands } from "./commands/embeddings.ts";
import { registerActionCommands } from "./commands/actions.ts";
import { registerApprovalCommands } from "./commands/approvals.ts";
import { registerScheduleCommands } from "./commands/schedules.ts";
import { registerRunCommands } from "./commands/runs.ts";
import { registerSqlCommands } from "./commands/sql.ts";
import { registerDoctorCommands } from "./commands/doctor.ts";
import { registerQueueErrorCommands } from "./commands/queue-errors.ts";
import { registerWorkspaceCommands } from "./commands/workspaces.ts";
import { registerAuditCommands } from "./commands/audit.ts";
import { registerDbCommands } from "./commands/db.ts";
import { registerJobCommand } from "./commands/job.ts";
import { registerWebhookCommands } from "./commands/webhooks.ts";
import { registerLogCommands } from "./commands/logs.ts";
import { registerIncidentCommands } from "./commands/incident.ts";
import { withClientOptions, clientFor, type ClientFlags } from "./commands/shared.ts";
import { statusCommand } from "./commands/status.ts";
import { registerDeployCheckCommand } from "./commands/deploy-check.ts";
import type { Role } from "./serve.ts";
import { packageVersion } from "../version.ts";

// `sluice status | head -1`: the reader has gone, so the rest of the output has no one to read it.
// Exit quietly (0) instead of crashing with an EPIPE stack; any other stdout error is real.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(0);
});

const program = new Command("sluice")
  .description("Sluice: a self-hostable runtime for AI pipelines")
  .version(packageVersion())
  .showHelpAfterError();

program
  .command("dev")
  .description("run everything embedded in one process (PGlite, local AI provider), run the demo and print the URLs")
  .option("--no-demo", "skip the demo run")
  .action(async (flags: { demo: boolean }) => {
    const { runDev } = await import("./commands/dev.ts");
    await runDev(flags);
  });

program
  .command("start")
  .description("run a server process in one role")
  .addOption(
    new Option("--role <role>", "api: HTTP API; worker: queue workers; all: both").choices(["api", "worker", "all"]).default("all"),
  )
  .option("--queues <names>", "serve only these queues, comma-separated (sets WORKER_QUEUES)")
  .option("--concurrency <queue=n,...>", "jobs at once per queue, e.g. churn=4,sentiment=2 (sets WORKER_CONCURRENCY)")
  .action(async (opts: { role: Role; queues?: string; concurrency?: string }) => {
    const { serve, exitOnSignals } = await import("./serve.ts");
    // Flag over environment: the config reads both from one place.
    const env = {
      ...process.env,
      ...(opts.queues ? { WORKER_QUEUES: opts.queues } : {}),
      ...(opts.concurrency ? { WORKER_CONCURRENCY: opts.concurrency } : {}),
    };
    exitOnSignals(await serve(opts.role, env));
  });

program
  .command("migrate")
  .description("apply pending database migrations (also done at start)")
  .action(async () => {
    const { loadConfig } = await import("../core/config.ts");
    const { migrate } = await import("../pipeline/migrator.ts");
    const config = loadConfig();
    const { store } = await (await import("../wiring.ts")).openStore({ ...config, storage: { ...config.storage, poolSize: 2 } });
    try {
      const result = await migrate(store, { requireVector: config.embeddings.vectorSearchEnabled });
      console.log(result.applied.length > 0 ? `Applied: ${result.applied.join(", ")}` : "Nothing to apply.");
      if (result.skipped.length > 0) console.log(`Skipped (no pgvector): ${result.skipped.join(", ")}`);
      console.log(`Schema version: ${result.current}`);
    } finally {
      await store.close();
    }
  });

withClientOptions(program.command("status"))
  .description("read a running server's readiness and print it; exits 1 when not ready")
  .action(async (opts: ClientFlags) => {
    process.exitCode = await statusCommand(clientFor(opts));
  });

registerKeyCommands(program);
registerDeployCheckCommand(program);
registerBackupCommands(program);
registerQueueCommands(program);
registerFlagCommands(program);
registerCacheCommands(program);
registerUsageCommands(program);
registerEmbeddingCommands(program);
registerActionCommands(program);
registerApprovalCommands(program);
registerScheduleCommands(program);
registerRunCommands(program);
registerSqlCommands(program);
registerDoctorCommands(program);
registerQueueErrorCommands(program);
registerWorkspaceCommands(program);
registerAuditCommands(program);
registerDbCommands(program);
registerJobCommand(program);
registerWebhookCommands(program);
registerAlertCommands(program);
registerWorkerCommands(program);
registerLogCommands(program);
registerIncidentCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ApiError) {
    console.error(`sluice: ${err.code}: ${err.message}`);
    process.exit(err.status === 0 ? 2 : 1);
  }
  if (err instanceof SluiceError) {
    // The code first, as for API errors: scripts and runbooks match on it (DATA_DIR_LOCKED, PGVECTOR_MISSING…).
    console.error(`sluice: ${err.code}: ${err.message}`);
    process.exit(err.code === "CONFIG_INVALID" ? 78 : 1);
  }
  const message = err instanceof Error ? err.message : String(err);
  console.error(`sluice: ${message}`);
  process.exit(1);
}
