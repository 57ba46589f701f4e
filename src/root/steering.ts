import type { SluiceConfig } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import type { PrometheusMetrics } from "../adapters/metrics/prometheus.ts";
import { createAccounting, createBudgets, createPriceTable, type Accounting, type Budgets } from "../pipeline/accounting/index.ts";
import type { AuditLog } from "../pipeline/audit/audit-log.ts";
import { createResultCache, type ResultCache } from "../pipeline/cache/index.ts";
import {
  createKillSwitches,
  createRuntimeFlags,
  flagDefaultsFromConfig,
  type KillSwitches,
  type RuntimeFlags,
} from "../pipeline/flags/index.ts";
import type { ProviderRuntime } from "../pipeline/runtime/index.ts";
import { BUILTIN_TASK_NAMES } from "../pipeline/tasks/builtin.ts";
import type { Store } from "../ports/store.ts";
import { openCacheEngine } from "../wiring.ts";

export interface SteeringDeps {
  store: Store;
  audit: AuditLog;
  metrics: PrometheusMetrics;
  logger: Logger;
  runtime: ProviderRuntime;
  /** Names of the configured providers: each gets a kill switch. */
  providers: string[];
}

export interface Steering {
  flags: RuntimeFlags;
  killSwitches: KillSwitches;
  cache: ResultCache;
  accounting: Accounting;
  budgets: Budgets;
}

/** Flags, kill switches, result cache, accounting and budgets: what operators steer at run time. */
export async function openSteering(config: SluiceConfig, deps: SteeringDeps): Promise<Steering> {
  const { store, audit, metrics, runtime } = deps;
  const logger = deps.logger.child({ component: "steering" });
  const defaults = flagDefaultsFromConfig(config, { tasks: Object.values(BUILTIN_TASK_NAMES), providers: deps.providers });
  const flags = createRuntimeFlags({ store, audit, defaults, cacheMs: config.flags.cacheMs, logger });
  const killSwitches = createKillSwitches({ flags, runtime, providers: deps.providers, recheckMs: config.flags.recheckMs, logger });
  await killSwitches.syncProviders();
  killSwitches.start(Math.max(500, config.flags.cacheMs));
  const prices = createPriceTable(config.ai.prices, (route) =>
    logger.warn({ route }, "no price for this provider/model: its cost is counted as 0 (set AI_PRICES)"),
  );
  const accounting = createAccounting({ store, metrics, prices, logger });
  const budgets = createBudgets({
    store,
    accounting,
    audit,
    defaultDailyTokens: config.budgets.workspaceDailyTokens,
    cacheMs: config.flags.cacheMs,
  });
  const cache = createResultCache({
    engine: openCacheEngine(config),
    metrics,
    logger,
    ttlSeconds: config.cache.ttlSeconds,
    enabled: config.cache.enabled,
  });
  return { flags, killSwitches, cache, accounting, budgets };
}
