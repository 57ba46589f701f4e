import { circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, type CircuitBreakerPolicy, type IDisposable } from "cockatiel";
import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Gauge } from "../../ports/metrics.ts";
import type { BreakerOptions, BreakerSnapshot, BreakerStateName, Route } from "./types.ts";

/**
 * One cockatiel circuit breaker per route. Only signs of an unhealthy provider count as failures
 * (5xx, timeouts, connection errors): a 429 is waited out, a 400 is the request's fault.
 */

function isBreakerFailure(err: unknown): boolean {
  return err instanceof SluiceError && (err.code === "PROVIDER_ERROR" || err.code === "PROVIDER_TIMEOUT");
}

const STATE_NAMES: Record<CircuitState, BreakerStateName> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};

interface Entry {
  route: Route;
  policy: CircuitBreakerPolicy;
  isolation: IDisposable | undefined;
  openedAt: number;
}

export interface Breakers {
  get(route: Route): CircuitBreakerPolicy;
  state(route: Route): BreakerStateName;
  /**
   * True while the breaker would refuse a call: isolated, or open and not yet due for its
   * half-open trial (cockatiel only moves to half-open when a call is attempted).
   */
  refuses(route: Route): boolean;
  /**
   * For a breaker that refuses calls, how long until one may go through: until the half-open trial
   * while it is open, a moment (at most 1 s) while the trial runs; undefined while it is isolated
   * (held by an operator, so no time is set) or not refusing.
   */
  retryAfterMs(route: Route): number | undefined;
  /** Every breaker made so far. */
  snapshot(): BreakerSnapshot[];
  isolate(match: { provider: string; model?: string | undefined }): void;
  release(match: { provider: string; model?: string | undefined }): void;
}

export function createBreakers(options: BreakerOptions, gauge: Gauge, logger: Logger): Breakers {
  const entries = new Map<string, Entry>();
  // Isolation asked for a whole provider also applies to its models' breakers made later.
  const isolatedMatches = new Set<string>();
  const matchKey = (m: { provider: string; model?: string | undefined }): string => `${m.provider}/${m.model ?? "*"}`;
  const isIsolated = (route: Route): boolean =>
    isolatedMatches.has(`${route.provider}/*`) || isolatedMatches.has(`${route.provider}/${route.model}`);

  function create(route: Route): Entry {
    const policy = circuitBreaker(handleWhen(isBreakerFailure), {
      halfOpenAfter: options.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.threshold),
    });
    const entry: Entry = { route, policy, isolation: undefined, openedAt: 0 };
    policy.onBreak(() => (entry.openedAt = Date.now()));
    const labels = { provider: route.provider, model: route.model };
    gauge.set(labels, CircuitState.Closed);
    policy.onStateChange((state) => {
      gauge.set(labels, state);
      const log = state === CircuitState.Closed ? logger.info.bind(logger) : logger.warn.bind(logger);
      log({ ...labels, state: STATE_NAMES[state] }, `circuit breaker ${STATE_NAMES[state]}`);
    });
    if (isIsolated(route)) entry.isolation = policy.isolate();
    return entry;
  }

  function entry(route: Route): Entry {
    const k = `${route.provider}/${route.model}`;
    let found = entries.get(k);
    if (!found) entries.set(k, (found = create(route)));
    return found;
  }

  const matching = (m: { provider: string; model?: string | undefined }): Entry[] =>
    [...entries.values()].filter((e) => e.route.provider === m.provider && (m.model === undefined || e.route.model === m.model));

  return {
    get: (route) => entry(route).policy,
    state: (route) => {
      const found = entries.get(`${route.provider}/${route.model}`);
      if (found) return STATE_NAMES[found.policy.state];
      return isIsolated(route) ? "isolated" : "closed";
    },
    refuses: (route) => {
      const found = entries.get(`${route.provider}/${route.model}`);
      if (!found) return isIsolated(route);
      const state = found.policy.state;
      return state === CircuitState.Isolated || (state === CircuitState.Open && Date.now() - found.openedAt < options.halfOpenAfterMs);
    },
    retryAfterMs: (route) => {
      const found = entries.get(`${route.provider}/${route.model}`);
      if (!found) return undefined;
      const state = found.policy.state;
      // Half-open, or open and due: a trial call decides; look again soon rather than a whole period later.
      const trialMs = Math.min(1_000, options.halfOpenAfterMs);
      if (state === CircuitState.HalfOpen) return trialMs;
      if (state !== CircuitState.Open) return undefined;
      const untilTrial = found.openedAt + options.halfOpenAfterMs - Date.now();
      return untilTrial > 0 ? untilTrial : trialMs;
    },
    snapshot: () => [...entries.values()].map((e) => ({ ...e.route, state: STATE_NAMES[e.policy.state] })),
    isolate(m) {
      isolatedMatches.add(matchKey(m));
      if (m.model !== undefined) entry({ provider: m.provider, model: m.model });
      for (const e of matching(m)) e.isolation ??= e.policy.isolate();
    },
    release(m) {
      isolatedMatches.delete(matchKey(m));
      for (const e of matching(m)) {
        if (isIsolated(e.route)) continue;
        e.isolation?.dispose();
        e.isolation = undefined;
      }
    },
  };
}
