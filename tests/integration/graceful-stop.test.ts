import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { stopInOrder } from "../../src/cli/serve.ts";
import { buildServer } from "../../src/server/app.ts";
import { createSluice } from "../../src/sluice.ts";

it("a stop lets requests already in handlers finish against open pools, and refuses new ones", async () => {
  const sluice = await createSluice({ env: { LOG_LEVEL: "silent", SLUICE_DATA_DIR: mkdtempSync(join(tmpdir(), "sluice-stop-")) } });
  const app = await buildServer(sluice, { docs: false });
  // A handler that is slow and then needs the database: the pool must still be open when it gets there.
  app.get("/slow", async () => {
    await new Promise((r) => setTimeout(r, 400));
    const { rows } = await sluice.store.query<{ one: number }>("SELECT 1 AS one");
    return { one: rows[0]?.one };
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  const inFlight = Array.from({ length: 10 }, () => fetch(`${url}/slow`).then(async (r) => ({ status: r.status, body: (await r.json()) })));
  await new Promise((r) => setTimeout(r, 100));
  const stopped = stopInOrder(app, sluice);
  const results = await Promise.all(inFlight);
  await stopped;
  expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
  expect(results.every((r) => (r.body as { one: number }).one === 1)).toBe(true);
  const late = await fetch(`${url}/slow`).then((r) => r.status, () => "refused");
  expect(late).toBe("refused");
});
