/**
 * The HTTP API speaks snake_case (`workspace_id`, `retry_count`), like the jobs API and the runbooks'
 * SQL columns, while the internal types stay camelCase. Routes whose answers come straight from
 * internal types pass them through here. Values under user-data keys are the caller's own JSON and
 * keep their keys as sent.
 */
const USER_DATA_KEYS = new Set(["metadata", "input", "output", "result", "payload", "details", "notify_args", "args"]);

const snakeCaseKey = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A deep copy with every object key in snake_case, except inside user data. Dates and other values stay as they are. */
export function snakeCaseKeys<T>(value: T): unknown {
  if (Array.isArray(value)) return value.map((v) => snakeCaseKeys(v));
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      const key = snakeCaseKey(k);
      return [key, USER_DATA_KEYS.has(key) ? v : snakeCaseKeys(v)];
    }),
  );
}
