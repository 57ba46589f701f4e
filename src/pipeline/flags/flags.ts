import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Queryable } from "../../ports/store.ts";
import type { AuditEntry } from "../audit/audit-log.ts";
import { deleteFlag, selectAllFlags, upsertFlag, type RuntimeFlagRow } from "./sql.ts";

/**
 * Runtime flags: named values in the `runtime_flags` table that override their environment
 * default without a redeploy (kill switches first of all). Every process re-reads the whole
 * (small) table at most once per `cacheMs`, so a change made through any process is seen by every
 * worker within that time; no pub/sub is needed.
 */

export type FlagValue = boolean | number | string;

/** Where a flag's current value comes from. */
type FlagSource = "runtime" | "env" | "default";

interface FlagState {
  name: string;
  value: FlagValue | null;
  source: FlagSource;
  /** The value without a runtime override (the environment's, or the built-in default). */
  default: FlagValue | null;
  updated_at: string | null;
  updated_by: string | null;
}

interface FlagChange {
  /** Who: `key:<id>`, `cli:<user>`, ... (kept in `runtime_flags.updated_by` and the audit log). */
  actor: string;
  reason?: string | undefined;
  workspaceId?: string | undefined;
}

export interface RuntimeFlagsOptions {
  store: Queryable;
  /** Where `set`/`unset` are audited (`flag.set`, `flag.unset` in `action_audit`). */
  audit: { record(entry: AuditEntry): Promise<number> };
  /**
   * Values used while a flag has no row: usually from the environment (`DISABLED_TASKS`, ...).
   * A name ending in `.enabled` that is absent here defaults to `true`.
   * @default {}
   */
  defaults?: Readonly<Record<string, FlagValue>>;
  /** How long a process trusts its copy of the table. @default 2000 */
  cacheMs?: number;
  logger?: Logger;
  /** @default Date.now */
  now?: () => number;
}

export interface RuntimeFlags {
  /** The current value: the runtime override, else the default; undefined when neither exists. */
  get(name: string): Promise<FlagValue | undefined>;
  /** For switches (`*.enabled`): false only when the value is `false`. */
  isEnabled(name: string): Promise<boolean>;
  /** Sets a runtime override (validated, audited) and returns the new state. */
  set(name: string, value: unknown, change: FlagChange): Promise<FlagState>;
  /** Removes the override (back to the default), audited; the new state. */
  unset(name: string, change: FlagChange): Promise<FlagState>;
  /** One flag's state. */
  describe(name: string): Promise<FlagState>;
  /** Every flag with a default or an override, plus `names`, sorted by name. */
  list(names?: readonly string[]): Promise<FlagState[]>;
  /** Re-reads the table now (the next `get` would do it after `cacheMs` anyway). */
  refresh(): Promise<void>;
}

const NAME = /^[a-z0-9][a-z0-9_.:/-]{0,199}$/;
const TRUE = new Set(["true", "on", "yes", "1", "enabled"]);
const FALSE = new Set(["false", "off", "no", "0", "disabled"]);

function validateFlagName(name: string): string {
  if (!NAME.test(name))
    throw new SluiceError("FLAG_INVALID", `Flag names are lower-case letters, digits and . _ : / - (at most 200): "${name}"`);
  return name;
}

/** A switch takes booleans (and their usual spellings); other flags take a boolean, number or string. */
function parseFlagValue(name: string, value: unknown): FlagValue {
  if (name.endsWith(".enabled")) {
    if (typeof value === "boolean") return value;
    const text = typeof value === "string" ? value.trim().toLowerCase() : String(value);
    if (TRUE.has(text)) return true;
    if (FALSE.has(text)) return false;
    throw new SluiceError("FLAG_INVALID", `"${name}" is a switch: its value is true or false`, { details: { name, value } });
  }
  if (typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) return value;
  if (typeof value === "string" && value.length <= 1000) return value;
  throw new SluiceError("FLAG_INVALID", `"${name}" takes a boolean, a number or a string of at most 1000 characters`, {
    details: { name },
  });
}

interface Snapshot {
  rows: Map<string, RuntimeFlagRow>;
  loadedAt: number;
}

export function createRuntimeFlags(options: RuntimeFlagsOptions): RuntimeFlags {
  const { store, audit } = options;
  const defaults = options.defaults ?? {};
  const cacheMs = options.cacheMs ?? 2_000;
  const now = options.now ?? Date.now;
  let snapshot: Snapshot | undefined;
  let loading: Promise<Snapshot> | undefined;

  function load(): Promise<Snapshot> {
    loading ??= selectAllFlags(store)
      .then((rows) => (snapshot = { rows: new Map(rows.map((r) => [r.name, r])), loadedAt: now() }))
      .catch((err: unknown) => {
        // A stale copy beats failing every check while the database blips.
        if (!snapshot) throw err;
        options.logger?.warn({ err }, "runtime flags could not be re-read; using the last copy");
        snapshot.loadedAt = now();
        return snapshot;
      })
      .finally(() => (loading = undefined));
    return loading;
  }

  async function current(): Promise<Snapshot> {
    if (snapshot && now() - snapshot.loadedAt < cacheMs) return snapshot;
    return load();
  }

  const defaultOf = (name: string): FlagValue | undefined => defaults[name] ?? (name.endsWith(".enabled") ? true : undefined);

  function stateOf(name: string, rows: Map<string, RuntimeFlagRow>): FlagState {
    const row = rows.get(name);
    const fallback = defaultOf(name);
    const source: FlagSource = row ? "runtime" : name in defaults ? "env" : "default";
    return {
      name,
      value: row ? (row.value as FlagValue) : (fallback ?? null),
      source,
      default: fallback ?? null,
      updated_at: row ? new Date(row.updated_at).toISOString() : null,
      updated_by: row?.updated_by ?? null,
    };
  }

  async function record(action: string, name: string, change: FlagChange, details: Record<string, unknown>): Promise<void> {
    await audit.record({
      actor: change.actor,
      action,
      workspaceId: change.workspaceId ?? null,
      target: name,
      reason: change.reason ?? null,
      details,
    });
  }

  return {
    async get(name) {
      const rows = (await current()).rows;
      const row = rows.get(name);
      return row ? (row.value as FlagValue) : defaultOf(name);
    },
    async isEnabled(name) {
      const rows = (await current()).rows;
      const row = rows.get(name);
      return (row ? row.value : defaultOf(name)) !== false;
    },
    async set(name, value, change) {
      validateFlagName(name);
      const parsed = parseFlagValue(name, value);
      const previous = stateOf(name, (await load()).rows).value;
      await upsertFlag(store, name, parsed, change.actor);
      await record("flag.set", name, change, { previous, value: parsed });
      options.logger?.warn({ flag: name, value: parsed, previous, actor: change.actor, reason: change.reason }, "runtime flag set");
      return stateOf(name, (await load()).rows);
    },
    async unset(name, change) {
      validateFlagName(name);
      const previous = stateOf(name, (await load()).rows).value;
      const removed = await deleteFlag(store, name);
      if (removed) await record("flag.unset", name, change, { previous, value: defaultOf(name) ?? null });
      return stateOf(name, (await load()).rows);
    },
    async describe(name) {
      validateFlagName(name);
      return stateOf(name, (await current()).rows);
    },
    async list(names = []) {
      const rows = (await current()).rows;
      const all = new Set([...Object.keys(defaults), ...rows.keys(), ...names]);
      return [...all].sort().map((name) => stateOf(name, rows));
    },
    async refresh() {
      await load();
    },
  };
}
