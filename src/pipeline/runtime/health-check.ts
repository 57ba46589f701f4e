import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "../../core/logger.ts";
import type { FleetReports } from "../../ports/fleet-reports.ts";
import type { HealthCheck } from "../health.ts";
import type { BreakerStateName, ProviderRuntime, Route, RuntimeHealth } from "./types.ts";

/**
 * `GET /health/llm` -> `{"available": true, ...}` (runbook 003 §3.2). Not required for
 * readiness: while providers are down, fallbacks and queued retries keep the instance useful.
 *
 * In an api/worker split the API makes no provider calls, so its own breakers say nothing. With
 * `fleet`, every process publishes what it saw (breakers, last error, the provider's remaining
 * limits) under its own id with a TTL, and the check merges every live report: any process answers
 * for the fleet, and each entry names the process that saw it (`reportedBy`).
 */

/** Who is reporting: `id` is unique per Sluice instance (two in one process get two ids). */
interface Reporter {
  id: string;
  host: string;
  pid: number;
}

function thisProcess(): Reporter {
  const host = hostname();
  return { id: `${host}:${process.pid}:${randomBytes(2).toString("hex")}`, host, pid: process.pid };
}

interface FleetHealthOptions {
  reports: FleetReports;
  /** @default thisProcess() */
  reporter?: Reporter;
  logger: Logger;
  /** How often this process looks at its own view and publishes it if it changed. @default 1000 */
  publishEveryMs?: number;
  /** A report's life without a refresh; unchanged reports are refreshed every third of it. @default 30 */
  ttlSeconds?: number;
}

export interface LlmHealthCheckOptions {
  /** Ask every provider for its model list on each check (bounded by 2.5 s). @default true */
  probe?: boolean;
  /** Share this process's view with the fleet and answer for all of it. */
  fleet?: FleetHealthOptions;
}

/** What one process published. */
interface ProcessView {
  reporter: Reporter;
  at: string;
  breakers: RuntimeHealth["breakers"];
  lastError: RuntimeHealth["lastError"];
  rateLimits: RuntimeHealth["rateLimits"];
}

const TOPIC = "llm-health";
// Well under the health registry's 3 s bound: a hung Redis or store still leaves this process's own view.
const READ_TIMEOUT_MS = 1_000;
// Which state to show when processes disagree: the one that refuses calls wins.
const SEVERITY: Record<BreakerStateName, number> = { closed: 0, "half-open": 1, isolated: 2, open: 3 };
const REFUSING = new Set<BreakerStateName>(["open", "isolated"]);
const routeKey = (r: Route): string => `${r.provider}/${r.model}`;

export function createLlmHealthCheck(
  runtime: ProviderRuntime,
  options: LlmHealthCheckOptions = {},
): HealthCheck & { close(): Promise<void> } {
  const fleet = options.fleet ? startPublishing(runtime, options.fleet) : undefined;
  return {
    name: "llm",
    required: false,
    async run() {
      const report = await runtime.health({ probe: options.probe ?? true });
      const local = {
        ok: report.available,
        available: report.available,
        primary: report.primary,
        fallbacks: report.fallbacks,
        breakers: report.breakers,
        lastError: report.lastError,
        rateLimits: report.rateLimits,
        ...(report.probes ? { providers: report.probes } : {}),
      };
      if (!fleet) return local;
      const self = viewOf(fleet.reporter, report);
      const peers = await fleet.peers();
      if (!Array.isArray(peers)) return { ...local, fleet: { reporter: fleet.reporter.id, error: peers.error } };
      return { ...local, ...merge(report, [self, ...peers]), fleet: { reporter: fleet.reporter.id, processes: [self, ...peers] } };
    },
    close: async () => fleet?.close(),
  };
}

function viewOf(reporter: Reporter, report: RuntimeHealth): ProcessView {
  return { reporter, at: new Date().toISOString(), breakers: report.breakers, lastError: report.lastError, rateLimits: report.rateLimits };
}

function startPublishing(runtime: ProviderRuntime, options: FleetHealthOptions) {
  const { reports, logger } = options;
  const reporter = options.reporter ?? thisProcess();
  const ttl = options.ttlSeconds ?? 30;
  let last = { digest: "", at: 0 };
  let publishing: Promise<void> | undefined;

  async function publish(): Promise<void> {
    const view = viewOf(reporter, await runtime.health({ probe: false }));
    const digest = JSON.stringify({ ...view, at: undefined });
    if (digest === last.digest && Date.now() - last.at < (ttl * 1000) / 3) return;
    await reports.publish(TOPIC, reporter.id, JSON.stringify(view), ttl);
    last = { digest, at: Date.now() };
  }
  const tick = (): void => {
    publishing ??= publish()
      .catch((err: unknown) => logger.debug({ err }, "could not publish this process's provider health"))
      .finally(() => (publishing = undefined));
  };
  tick();
  const timer = setInterval(tick, options.publishEveryMs ?? 1_000);
  timer.unref();

  return {
    reporter,
    /** The other processes' live views, or why they could not be read. */
    async peers(): Promise<ProcessView[] | { error: string }> {
      try {
        const all = await withinMs(reports.read(TOPIC), READ_TIMEOUT_MS);
        return all.filter((r) => r.reporter !== reporter.id).flatMap((r) => parseView(r.body));
      } catch (err) {
        return { error: `could not read the other processes' reports: ${err instanceof Error ? err.message : String(err)}` };
      }
    },
    async close(): Promise<void> {
      clearInterval(timer);
      await publishing;
      await reports.withdraw(TOPIC, reporter.id).catch(() => undefined); // it expires anyway
    },
  };
}

async function withinMs<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

function parseView(body: string): ProcessView[] {
  try {
    const view = JSON.parse(body) as ProcessView;
    return Array.isArray(view.breakers) && Array.isArray(view.rateLimits) && view.reporter ? [view] : [];
  } catch {
    return []; // a report from an incompatible version: skip it rather than fail the check
  }
}

/** Per route, the state that refuses calls wins; `reportedBy` lists the processes that saw it. */
function mergeBreakers(views: ProcessView[]) {
  const merged = new Map<string, { provider: string; model: string; state: BreakerStateName; reportedBy: string[] }>();
  for (const view of views) {
    for (const b of view.breakers) {
      const found = merged.get(routeKey(b));
      if (!found || SEVERITY[b.state] > SEVERITY[found.state])
        merged.set(routeKey(b), { provider: b.provider, model: b.model, state: b.state, reportedBy: [view.reporter.id] });
      else if (found.state === b.state) found.reportedBy.push(view.reporter.id);
    }
  }
  return merged;
}

/** The newest limits the provider reported per route, whoever received them. */
function newestRateLimits(views: ProcessView[]) {
  const newest = new Map<string, RuntimeHealth["rateLimits"][number] & { reportedBy: string }>();
  for (const view of views) {
    for (const r of view.rateLimits) {
      const found = newest.get(routeKey(r));
      if (!found || r.at > found.at) newest.set(routeKey(r), { ...r, reportedBy: view.reporter.id });
    }
  }
  return [...newest.values()];
}

/** The fleet's answer: merged breakers, the newest error and limits, each naming who saw it. */
function merge(report: RuntimeHealth, views: ProcessView[]) {
  const breakers = mergeBreakers(views);
  const errors = views.flatMap((v) => (v.lastError ? [{ ...v.lastError, reportedBy: v.reporter.id }] : []));
  const lastError = errors.sort((a, b) => b.at.localeCompare(a.at))[0] ?? null;
  const refused = (route: Route): boolean => REFUSING.has(breakers.get(routeKey(route))?.state ?? "closed");
  const probeOk = (route: Route): boolean => report.probes?.find((p) => p.provider === route.provider)?.ok ?? true;
  // This process's own verdict (providers configured, probes) and the fleet's breakers must both allow a route.
  const available = report.available && [report.primary, ...report.fallbacks].some((route) => !refused(route) && probeOk(route));
  return { ok: available, available, breakers: [...breakers.values()], lastError, rateLimits: newestRateLimits(views) };
}
