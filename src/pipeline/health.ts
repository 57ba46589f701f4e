/**
 * Readiness is the sum of named dependency checks. Components register theirs (store, Redis,
 * queue backend, AI provider); `/ready` and `/health/<name>` read the same results.
 */
export interface CheckResult {
  /** Whether the dependency works. A dependency that is not configured is ok, and says so. */
  ok: boolean;
  /** False when the dependency is not configured in this deployment. */
  configured?: boolean;
  latency_ms?: number;
  error?: string;
  [detail: string]: unknown;
}

export interface HealthCheck {
  name: string;
  /** A failing required check makes the instance not ready (503). */
  required: boolean;
  run(): Promise<CheckResult>;
}

export interface ReadyReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

const CHECK_TIMEOUT_MS = 3_000;

async function runBounded(check: HealthCheck): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: `timed out after ${CHECK_TIMEOUT_MS} ms` }), CHECK_TIMEOUT_MS);
  });
  try {
    const result = await Promise.race([check.run(), timeout]);
    return { latency_ms: Math.round((performance.now() - started) * 10) / 10, ...result };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export class HealthRegistry {
  readonly #checks = new Map<string, HealthCheck>();

  register(check: HealthCheck): void {
    this.#checks.set(check.name, check);
  }

  names(): string[] {
    return [...this.#checks.keys()];
  }

  async check(name: string): Promise<CheckResult | undefined> {
    const check = this.#checks.get(name);
    return check ? runBounded(check) : undefined;
  }

  async ready(): Promise<ReadyReport> {
    const entries = await Promise.all([...this.#checks.values()].map(async (c) => [c, await runBounded(c)] as const));
    const ready = entries.every(([c, r]) => r.ok || !c.required);
    return { ready, checks: Object.fromEntries(entries.map(([c, r]) => [c.name, r])) };
  }
}
