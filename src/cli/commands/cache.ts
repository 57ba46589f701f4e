import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface WarmReport {
  requested: number;
  warmed: number;
  already_cached: number;
  not_cacheable: number;
  failed: number;
  items: Array<{ index: number; type: string; status: string; error?: { code: string; message: string } }>;
}

/** `sluice cache stats|clear|warm`: seed 004 §3 over the admin API. */
export function registerCacheCommands(program: Command): void {
  const cache = program.command("cache").description("the result cache: stats, clear (by pattern), warm-up");

  withClientOptions(cache.command("stats"))
    .description("hits, misses, hit rate, keys and engine")
    .option("--json", "print JSON")
    .action(async (opts: ClientFlags & { json?: boolean }) => {
      const stats = await clientFor(opts).call<Record<string, unknown>>("GET", "/api/cache/stats");
      console.log(
        opts.json
          ? JSON.stringify(stats, null, 2)
          : table([stats], ["engine", "enabled", "hits", "misses", "hit_rate", "keys", "ttl_seconds", "counters"]),
      );
    });

  withClientOptions(cache.command("clear"))
    .description("remove cached results: all, or those whose key matches a glob (e.g. 'embed:*', '*:openai:gpt-4o-mini:*')")
    .option("--pattern <glob>", "Redis glob over <task>:<provider>:<model>:<hash>", "*")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (opts: ClientFlags & { pattern: string; reason?: string }) => {
      const result = await clientFor(opts).call<{ removed: number; engine: string }>("POST", "/api/cache/clear", {
        pattern: opts.pattern,
        ...(opts.reason ? { reason: opts.reason } : {}),
      });
      console.log(`Removed ${result.removed} cached result(s) matching ${opts.pattern} (${result.engine}).`);
    });

  withClientOptions(cache.command("warm <file>"))
    .description("run the task inputs in a JSON file ([{type, input}, ...]) and cache their results")
    .option("--refresh", "recompute items already cached")
    .option("--reason <text>", "why (kept in the audit log)")
    .option("--json", "print the whole report as JSON")
    .action(async (file: string, opts: ClientFlags & { refresh?: boolean; reason?: string; json?: boolean }) => {
      const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
      const items: unknown = Array.isArray(parsed) ? parsed : (parsed as { items?: unknown }).items;
      if (!Array.isArray(items)) throw new Error(`${file}: expected a JSON array of {"type": ..., "input": ...}`);
      const report = await clientFor(opts).call<WarmReport>("POST", "/api/cache/warm", {
        items,
        ...(opts.refresh ? { refresh: true } : {}),
        ...(opts.reason ? { reason: opts.reason } : {}),
      });
      if (opts.json) return console.log(JSON.stringify(report, null, 2));
      console.log(
        `Warmed ${report.warmed}, already cached ${report.already_cached}, not cacheable ${report.not_cacheable}, failed ${report.failed} (of ${report.requested}).`,
      );
      for (const item of report.items.filter((i) => i.error))
        console.log(`  #${item.index} ${item.type}: ${item.error?.code}: ${item.error?.message}`);
      if (report.failed > 0) process.exitCode = 1;
    });
}
