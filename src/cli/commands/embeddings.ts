import { InvalidArgumentError, type Command } from "commander";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface Backlog {
  backfill: { enabled: boolean; source: string };
  batch_mode: string;
  by_workspace: Array<{ workspace_id: string; status: string; count: number }>;
  top_pending: Array<{ workspace_id: string; pending: number }>;
  stuck_batches: Array<{
    id: number;
    workspace_id: string | null;
    status: string;
    total_items: number;
    completed_items: number;
    provider_batch_id: string | null;
    age_seconds: number;
  }>;
  recent_errors: Array<{ error_message: string | null; count: number }>;
  oldest_open_batch_age_seconds: number;
}

const hours = (seconds: number) => `${(seconds / 3600).toFixed(1)}h`;

/** The four runbook queries, one section each. */
function renderBacklog(b: Backlog): string {
  const state = b.backfill.enabled ? "enabled" : "DISABLED";
  return [
    `Backfill: ${state} (${b.backfill.source})   batch mode: ${b.batch_mode}   oldest open batch: ${hours(b.oldest_open_batch_age_seconds)}`,
    "",
    "Backlog per workspace:",
    table(b.by_workspace, ["workspace_id", "status", "count"]),
    "",
    "Top 10 workspaces by pending:",
    table(b.top_pending, ["workspace_id", "pending"]),
    "",
    "Stuck batches (open > 2h):",
    table(
      b.stuck_batches.map((s) => ({ ...s, age: hours(s.age_seconds) })),
      ["id", "workspace_id", "status", "total_items", "completed_items", "provider_batch_id", "age"],
    ),
    "",
    "Recent errors (failed, last hour):",
    table(b.recent_errors, ["count", "error_message"]),
  ].join("\n");
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number, 1 or more");
  return n;
}

function jsonObject(value: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new InvalidArgumentError('expected a JSON object, e.g. \'{"colour":"red"}\'');
}

/** `sluice backlog`, `sluice reindex`, `sluice maintenance vacuum|reindex`, `sluice search`: runbook 000 from a terminal. */
export function registerEmbeddingCommands(program: Command): void {
  withClientOptions(program.command("backlog"))
    .description("embeddings backlog: per workspace and status, top 10 pending, stuck batches, recent errors (admin)")
    .option("--json", "print JSON")
    .action(async (opts: ClientFlags & { json?: boolean }) => {
      const body = await clientFor(opts).call<Backlog>("GET", "/api/embeddings/backlog");
      console.log(opts.json ? JSON.stringify(body, null, 2) : renderBacklog(body));
    });

  withClientOptions(program.command("reindex"))
    .description(
      "re-queue embeddings: every item of a workspace (--workspace), or failed items (--failed; --force includes those that used all 3 attempts)",
    )
    .option("--workspace <id>", "the workspace to re-embed (with --failed: only its failed items)")
    .option("--failed", "re-queue failed items with retry_count < 3 (the runbook's query)")
    .option("--force", "with --failed: every failed item")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (opts: ClientFlags & { workspace?: string; failed?: boolean; force?: boolean; reason?: string }) => {
      if (!opts.failed && !opts.workspace) throw new InvalidArgumentError("give --workspace ID or --failed");
      if (opts.force && !opts.failed) throw new InvalidArgumentError("--force goes with --failed");
      const body = {
        ...(opts.workspace ? { workspace: opts.workspace } : {}),
        ...(opts.failed ? { failed: true, force: opts.force === true } : {}),
        ...(opts.reason ? { reason: opts.reason } : {}),
      };
      const done = await clientFor(opts).call<{ requeued: number }>("POST", "/api/embeddings/reindex", body);
      console.log(
        `Re-queued ${done.requeued} item(s)${opts.workspace ? ` of ${opts.workspace}` : ""}${opts.failed ? (opts.force ? " (failed, forced)" : " (failed, retry_count < 3)") : ""}.`,
      );
    });

  const maintenance = program.command("maintenance").description("embeddings table and HNSW index maintenance (admin)");
  withClientOptions(maintenance.command("vacuum"))
    .description("VACUUM ANALYZE shop_product_embeddings and embedding_batches (run off-peak)")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (opts: ClientFlags & { reason?: string }) => {
      const done = await clientFor(opts).call<{ tables: Array<{ table: string; duration_ms: number }> }>(
        "POST",
        "/api/embeddings/maintenance/vacuum",
        opts.reason ? { reason: opts.reason } : {},
      );
      for (const t of done.tables) console.log(`VACUUM ANALYZE ${t.table}: ${t.duration_ms} ms`);
    });
  withClientOptions(maintenance.command("reindex"))
    .description("REINDEX INDEX CONCURRENTLY idx_shop_embeddings_vector (severe corruption only)")
    .option("--no-concurrently", "plain REINDEX (blocks writes while it runs)")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (opts: ClientFlags & { concurrently: boolean; reason?: string }) => {
      const done = await clientFor(opts).call<{ index: string; concurrently: boolean; duration_ms: number }>(
        "POST",
        "/api/embeddings/maintenance/reindex",
        {
          concurrently: opts.concurrently,
          ...(opts.reason ? { reason: opts.reason } : {}),
        },
      );
      console.log(`REINDEX INDEX ${done.concurrently ? "CONCURRENTLY " : ""}${done.index}: ${done.duration_ms} ms`);
    });

  withClientOptions(program.command("search <text>"))
    .description("vector search in one workspace (the key's own, or any with an operator key)")
    .requiredOption("--workspace <id>", "workspace to search")
    .option("-k <n>", "results", positiveInt, 10)
    .option("--filter <json>", "only items whose metadata contains this JSON object", jsonObject)
    .option("--json", "print JSON")
    .action(
      async (text: string, opts: ClientFlags & { workspace: string; k: number; filter?: Record<string, unknown>; json?: boolean }) => {
        const body = { query: text, k: opts.k, ...(opts.filter ? { filter: opts.filter } : {}) };
        const found = await clientFor(opts).call<{ hits: Array<{ id: string; score: number; metadata: unknown }>; took_ms: number }>(
          "POST",
          `/api/workspaces/${encodeURIComponent(opts.workspace)}/search`,
          body,
        );
        if (opts.json) return console.log(JSON.stringify(found, null, 2));
        console.log(
          table(
            found.hits.map((h) => ({ ...h, score: h.score.toFixed(4) })),
            ["id", "score", "metadata"],
          ),
        );
        console.log(`${found.hits.length} hit(s) in ${found.took_ms} ms`);
      },
    );
}
