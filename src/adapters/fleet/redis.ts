import type { Redis } from "ioredis";
import type { FleetReports } from "../../ports/fleet-reports.ts";

export interface RedisFleetReportsOptions {
  /** A connected client; the adapter never closes it. */
  client: Redis;
  /** @default "sluice:fleet" */
  keyPrefix?: string;
}

/**
 * Fleet reports on Redis: one key per reporter with its own TTL (Redis expires it, whatever the
 * clocks of the hosts say), plus a set of reporters per topic so reading never SCANs the keyspace
 * (the queue Redis can hold millions of job keys). Readers drop set members whose key expired.
 */
export function createRedisFleetReports(options: RedisFleetReportsOptions): FleetReports {
  const { client } = options;
  const prefix = options.keyPrefix ?? "sluice:fleet";
  const index = (topic: string): string => `${prefix}:${topic}`;
  const key = (topic: string, reporter: string): string => `${prefix}:${topic}:${reporter}`;
  return {
    async publish(topic, reporter, body, ttlSeconds) {
      // The index outlives its last member by one TTL, so it goes too once every process is gone.
      await client
        .multi()
        .set(key(topic, reporter), body, "EX", ttlSeconds)
        .sadd(index(topic), reporter)
        .expire(index(topic), ttlSeconds * 2)
        .exec();
    },
    async read(topic) {
      const reporters = await client.smembers(index(topic));
      if (reporters.length === 0) return [];
      const bodies = await client.mget(reporters.map((r) => key(topic, r)));
      const gone = reporters.filter((_, i) => bodies[i] === null);
      if (gone.length > 0) await client.srem(index(topic), ...gone);
      return reporters.flatMap((reporter, i) => {
        const body = bodies[i];
        return body === null || body === undefined ? [] : [{ reporter, body }];
      });
    },
    async withdraw(topic, reporter) {
      await client.multi().unlink(key(topic, reporter)).srem(index(topic), reporter).exec();
    },
  };
}
