import type { SluiceConfig } from "../../core/config.ts";
import type { Logger } from "../../core/logger.ts";
import type { Kv } from "../../ports/kv.ts";
import type { Store } from "../../ports/store.ts";
import { SluiceError } from "../../core/errors.ts";
import { createAuthThrottle } from "./auth-throttle.ts";
import { createApiKeys, type ApiKey, type CreateApiKeyInput, type CreatedApiKey, type ListApiKeysOptions } from "./api-keys.ts";
import { createIdempotency, type ClaimResult, type IdempotencyRecord } from "./idempotency.ts";
import type { LimitCounters } from "../../ports/limits.ts";
import { createWorkspaceRateLimiter, type RateLimitDecision } from "./rate-limit.ts";
import { hasScope, requireScope, type Principal, type Scope } from "./scopes.ts";
import * as workspaces from "./workspaces.ts";
import type { ListWorkspacesOptions, Workspace, WorkspaceOptions, WorkspaceUpdate } from "./workspaces.ts";

export * from "./api-keys.ts";
export * from "./idempotency.ts";
export * from "./rate-limit.ts";
export * from "./scopes.ts";
export * from "./workspaces.ts";

export interface IntakeOptions {
  /** The SQL store holding workspaces and api_keys (migrations applied). */
  store: Store;
  /**
   * Idempotency records (and, on Redis, rate-limit counters). On Redis use the queue Redis
   * (REDIS_URL, noeviction), not an evicting cache Redis: an evicted record is a duplicate job.
   */
  kv: Kv;
  config: Pick<SluiceConfig, "intake">;
  /** Where rate-limit counters live (chosen once at the root, shared with the provider limits). */
  limits: LimitCounters;
  /** How long `authenticate` trusts its in-process cache. @default 5000 */
  authCacheTtlMs?: number | undefined;
  /** Rate-limit window; the configured limits are per this window. @default 60 */
  rateLimitWindowSeconds?: number | undefined;
  logger?: Logger;
}

/** What a request spends: each kind has its own per-workspace budget. */
export type RequestKind = "jobs" | "reads" | "search" | "ingest";

/** Everything the jobs API and the CLI need from intake, over one store and one Kv. */
export interface Intake {
  readonly rateLimitBackend: LimitCounters["kind"];
  readonly idempotencyTtlSeconds: number;
  createWorkspace(id: string, name: string, options?: WorkspaceOptions): Promise<Workspace>;
  ensureWorkspace(id: string, name: string, options?: WorkspaceOptions): Promise<Workspace>;
  getWorkspace(id: string): Promise<Workspace | null>;
  listWorkspaces(options?: ListWorkspacesOptions): Promise<Workspace[]>;
  updateWorkspace(id: string, update: WorkspaceUpdate): Promise<Workspace>;
  createApiKey(input: CreateApiKeyInput): Promise<CreatedApiKey>;
  /**
   * The caller behind a key. With `client` (the caller's address), wrong keys are counted per
   * address and an address over AUTH_FAILURES_PER_MINUTE is refused with 429 before its key is checked.
   */
  authenticate(secret: string | undefined | null, client?: string): Promise<Principal>;
  requireScope(principal: Principal, scope: Scope): void;
  hasScope(principal: Principal, scope: Scope): boolean;
  revokeApiKey(keyId: string, options?: { workspaceId?: string }): Promise<ApiKey>;
  listApiKeys(workspaceId?: string, options?: ListApiKeysOptions): Promise<ApiKey[]>;
  claim(workspace: string, clientRequestId: string, jobId: string): Promise<ClaimResult>;
  lookupClaim(workspace: string, clientRequestId: string): Promise<string | null>;
  inspectClaim(workspace: string, clientRequestId: string): Promise<IdempotencyRecord | null>;
  /** Marks a claim's job as queued (see `Idempotency.confirm`). */
  confirmClaim(workspace: string, clientRequestId: string, jobId: string): Promise<boolean>;
  /**
   * Counts one request of a kind against the workspace's budget for that kind: `jobs` (intake,
   * RATE_LIMIT_PER_MINUTE or the workspace's own limit), `reads`, `search`, `ingest` (each its own
   * budget, so a tenant's polling cannot eat its intake). RATE_LIMITED (429) past it.
   */
  consume(workspace: string, kind?: RequestKind): Promise<RateLimitDecision>;
}

export function createIntake(options: IntakeOptions): Intake {
  const { store, kv, config } = options;
  const keys = createApiKeys({ store, cacheTtlMs: options.authCacheTtlMs });
  const idempotency = createIdempotency({ kv, ttlSeconds: config.intake.idempotencyTtlSeconds });
  const counters = options.limits;
  const limiter = createWorkspaceRateLimiter({
    counters,
    defaultLimit: config.intake.rateLimitPerMinute,
    windowSeconds: options.rateLimitWindowSeconds,
    lookupLimit: async (id) => (await workspaces.getWorkspace(store, id))?.rateLimitPerMinute,
  });
  const authThrottle = createAuthThrottle(counters, config.intake.authFailuresPerMinute);
  const budget = (kind: Exclude<RequestKind, "jobs">) =>
    createWorkspaceRateLimiter({
      counters,
      defaultLimit: config.intake.perMinute[kind],
      windowSeconds: options.rateLimitWindowSeconds,
      keyPrefix: `ai:ratelimit:${kind}`,
    });
  const budgets = { reads: budget("reads"), search: budget("search"), ingest: budget("ingest") };
  options.logger?.info(
    { rateLimitBackend: counters.kind, kv: kv.kind },
    counters.kind === "memory"
      ? "rate limits counted in process memory (embedded mode: one process)"
      : `rate limits counted on ${counters.kind}`,
  );

  return {
    rateLimitBackend: counters.kind,
    idempotencyTtlSeconds: idempotency.ttlSeconds,
    createWorkspace: (id, name, opts) => workspaces.createWorkspace(store, id, name, opts),
    ensureWorkspace: (id, name, opts) => workspaces.ensureWorkspace(store, id, name, opts),
    getWorkspace: (id) => workspaces.getWorkspace(store, id),
    listWorkspaces: (opts) => workspaces.listWorkspaces(store, opts),
    async updateWorkspace(id, update) {
      const updated = await workspaces.updateWorkspace(store, id, update);
      limiter.forgetLimit(id);
      return updated;
    },
    createApiKey: (input) => keys.create(input),
    async authenticate(secret, client) {
      if (client === undefined) return keys.authenticate(secret);
      await authThrottle.assertAllowed(client);
      try {
        return await keys.authenticate(secret);
      } catch (err) {
        if (err instanceof SluiceError && err.code === "UNAUTHENTICATED") await authThrottle.recordFailure(client);
        throw err;
      }
    },
    requireScope,
    hasScope,
    revokeApiKey: (keyId, opts) => keys.revoke(keyId, opts),
    listApiKeys: (workspaceId, opts) => keys.list(workspaceId, opts),
    claim: (workspace, id, jobId) => idempotency.claim(workspace, id, jobId),
    lookupClaim: (workspace, id) => idempotency.lookup(workspace, id),
    inspectClaim: (workspace, id) => idempotency.inspect(workspace, id),
    confirmClaim: (workspace, id, jobId) => idempotency.confirm(workspace, id, jobId),
    consume: (workspace, kind = "jobs") => (kind === "jobs" ? limiter.consume(workspace) : budgets[kind].consume(workspace)),
  };
}
