/**
 * Short-lived reports each process publishes about itself, readable by every process of the
 * deployment: how an API process answers for the workers (e.g. their provider breakers in
 * `/health/llm`). Two adapters: Redis (src/adapters/fleet/redis.ts) when `REDIS_URL` is set, else
 * the SQL store (src/adapters/fleet/sql.ts). A report nobody refreshes disappears after its TTL,
 * so a crashed process drops out by itself.
 */
interface FleetReport {
  /** The publishing process, e.g. `host:pid:1a2b`. */
  reporter: string;
  /** What it published (callers serialise). */
  body: string;
}

export interface FleetReports {
  /** Stores `reporter`'s latest report on `topic`, replacing its previous one; gone `ttlSeconds` after the last publish. */
  publish(topic: string, reporter: string, body: string, ttlSeconds: number): Promise<void>;
  /** Every live report on `topic`, in no particular order. */
  read(topic: string): Promise<FleetReport[]>;
  /** Removes `reporter`'s report at once (a clean shutdown). */
  withdraw(topic: string, reporter: string): Promise<void>;
}
