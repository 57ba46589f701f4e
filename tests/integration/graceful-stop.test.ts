import { expect, it } from "vitest";
import { stopInOrder } from "../../src/cli/serve.ts";
import { buildServer } from "../../src/server/app.ts";
import { createSluice } from "../../src/sluice.ts";
import { newEmbeddedDataDir } from "../harness/pglite-template.ts";
import { until } from "../harness/wait.ts";

it("a stop lets requests already in handlers finish against open pools, and refuses new ones", async () => {
  const sluice = await createSluice({ env: { LOG_LEVEL: "silent", SLUICE_DATA_DIR: newEmbeddedDataDir("sluice-stop-") } });
  const app = await buildServer(sluice, { docs: false });
  // A handler that is slow and then needs the database: the pool must still be open when it gets there.
  let entered = 0;
  app.get("/slow", async () => {
    entered += 1;
    await new Promise((r) => setTimeout(r, 400));
    const { rows } = await sluice.store.query<{ one: number }>("SELECT 1 AS one");
    return { one: rows[0]?.one };
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  const inFlight = Array.from({ length: 10 }, () => fetch(`${url}/slow`).then(async (r) => ({ status: r.status, body: await r.json() })));
  // Stop once all ten are inside the handler (a fixed sleep raced their arrival on a busy machine).
  await until(
    async () => entered,
    (n) => n === 10,
    10_000,
    "all requests in the handler",
  );
  const stopped = stopInOrder(app, sluice);
  const results = await Promise.all(inFlight);
  await stopped;
  expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
  expect(results.every((r) => (r.body as { one: number }).one === 1)).toBe(true);
  const late = await fetch(`${url}/slow`).then(
    (r) => r.status,
    () => "refused",
  );
  expect(late).toBe("refused");
});
