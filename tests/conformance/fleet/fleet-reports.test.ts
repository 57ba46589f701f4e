import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisFleetReports } from "../../../src/adapters/fleet/redis.ts";
import { createSqlFleetReports } from "../../../src/adapters/fleet/sql.ts";
import { createPgStore } from "../../../src/adapters/store/pg/store.ts";
import { createPgliteStore } from "../../../src/adapters/store/pglite/store.ts";
import { migrate } from "../../../src/pipeline/migrator.ts";
import type { FleetReports } from "../../../src/ports/fleet-reports.ts";
import { freshPostgresDatabase, redisUrl } from "../../harness/databases.ts";
import { sleep } from "../../harness/wait.ts";
import { testPgliteDataDir } from "../../harness/pglite-template.ts";

/** The FleetReports port, one suite for every adapter: what /health/llm relies on to answer for the fleet. */
interface Opened {
  reports: FleetReports;
  close(): Promise<void>;
}

function fleetReportsConformance(name: string, open: () => Promise<Opened>): void {
  describe(`FleetReports on ${name}`, () => {
    let opened: Opened;
    let topic: string;
    beforeAll(async () => {
      opened = await open();
    });
    afterAll(async () => {
      await opened?.close();
    });
    const sorted = async () => (await opened.reports.read(topic)).sort((a, b) => a.reporter.localeCompare(b.reporter));

    it("keeps one latest report per reporter and topic", async () => {
      topic = `t-${randomUUID()}`;
      await opened.reports.publish(topic, "api:1:aa", "one", 30);
      await opened.reports.publish(topic, "worker:2:bb", "two", 30);
      await opened.reports.publish(topic, "worker:2:bb", "two again", 30);
      await opened.reports.publish(`${topic}-other`, "api:1:aa", "elsewhere", 30);
      expect(await sorted()).toEqual([
        { reporter: "api:1:aa", body: "one" },
        { reporter: "worker:2:bb", body: "two again" },
      ]);
    });

    it("withdraws a report at once", async () => {
      await opened.reports.withdraw(topic, "api:1:aa");
      expect(await sorted()).toEqual([{ reporter: "worker:2:bb", body: "two again" }]);
    });

    it("drops a report nobody refreshes after its TTL", async () => {
      topic = `t-${randomUUID()}`;
      await opened.reports.publish(topic, "crashed:3:cc", "x", 1);
      await opened.reports.publish(topic, "alive:4:dd", "y", 30);
      await sleep(2_100);
      expect(await sorted()).toEqual([{ reporter: "alive:4:dd", body: "y" }]);
    });

    it("treats LIKE wildcards in a topic literally", async () => {
      await opened.reports.publish("a_b", "r", "underscore", 30);
      await opened.reports.publish("axb", "r", "x", 30);
      expect(await opened.reports.read("a_b")).toEqual([{ reporter: "r", body: "underscore" }]);
    });
  });
}

fleetReportsConformance("Redis", async () => {
  const client = new Redis(redisUrl(14));
  const prefix = `fleet-test:${randomUUID()}`;
  return { reports: createRedisFleetReports({ client, keyPrefix: prefix }), close: async () => void client.disconnect() };
});

fleetReportsConformance("PostgreSQL (kv_entries)", async () => {
  const store = createPgStore({ connectionString: await freshPostgresDatabase("fleet"), poolSize: 2 });
  await migrate(store, { requireVector: false });
  return { reports: createSqlFleetReports({ store }), close: () => store.close() };
});

fleetReportsConformance("PGlite (kv_entries)", async () => {
  const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
  await migrate(store);
  return { reports: createSqlFleetReports({ store }), close: () => store.close() };
});
