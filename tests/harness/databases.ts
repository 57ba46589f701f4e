import { inject } from "vitest";
import { createDatabase, uniqueName } from "./servers.ts";

/** A new, empty database on the run's PostgreSQL server. */
export function freshPostgresDatabase(prefix = "t"): Promise<string> {
  return createDatabase(inject("postgresUrl"), uniqueName(prefix));
}

/** The run's Redis server, with a logical database chosen by the caller (0-15). */
export function redisUrl(db = 0): string {
  return `${inject("redisUrl")}/${db}`;
}
