import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startDev, type DevServer } from "../harness/cli.ts";
import { catalogue, until } from "./backfill-support.ts";

/** `sluice backlog|reindex|maintenance|search` and the kill switch against a real `sluice dev`, as an operator runs them. */
describe("sluice embeddings commands", () => {
  let dev: DevServer;
  let output: () => string;
  let env: Record<string, string>;
  let url: string;

  beforeAll(async () => {
    dev = await startDev({ EMBEDDING_BACKFILL_SWEEP_MS: "300", FLAGS_CACHE_MS: "100" });
    output = dev.output;
    url = dev.url;
    env = dev.env;
    const key = dev.key;
    const res = await fetch(`${url}/api/workspaces/dev/items`, {
      method: "PUT",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ items: catalogue(120) }),
    });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await dev.stop();
  });

  it("backlog shows the backfill draining, then search finds items", async () => {
    await until(
      async () => JSON.parse(runCli(["backlog", "--json"], env).stdout) as { by_workspace: unknown[] },
      (b) => JSON.stringify(b.by_workspace) === JSON.stringify([{ workspace_id: "dev", status: "completed", count: 120 }]),
      30_000,
      "backlog drained",
    );
    const text = runCli(["backlog"], env);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Backfill: enabled \(env\)/);
    expect(text.stdout).toMatch(/^dev\s+completed\s+120$/m);
    for (const section of ["Top 10 workspaces by pending:", "Stuck batches (open > 2h):", "Recent errors (failed, last hour):"])
      expect(text.stdout).toContain(section);

    const found = runCli(["search", "--workspace", "dev", "-k", "3", "--filter", '{"colour":"red"}', "red running shoe model 40"], env);
    expect(found.status, found.stderr).toBe(0);
    expect(found.stdout.split("\n")[1]).toMatch(/^p-40\s+1\.0000\s/);
    expect(found.stdout).toContain("3 hit(s)");
  });

  it("reindex a workspace, failed items, and the index; bad combinations exit 1", () => {
    const ws = runCli(["reindex", "--workspace", "dev", "--reason", "cli drill"], env);
    expect(ws.stdout.trim()).toBe("Re-queued 120 item(s) of dev.");
    const failed = runCli(["reindex", "--failed"], env);
    expect(failed.stdout.trim()).toBe("Re-queued 0 item(s) (failed, retry_count < 3).");
    const neither = runCli(["reindex"], env);
    expect(neither.status).toBe(1);
    expect(neither.stderr).toContain("give --workspace ID or --failed");
    const vacuum = runCli(["maintenance", "vacuum"], env);
    expect(vacuum.stdout).toMatch(/^VACUUM ANALYZE shop_product_embeddings: \d+ ms\nVACUUM ANALYZE embedding_batches: \d+ ms$/m);
    const index = runCli(["maintenance", "reindex", "--reason", "drill"], env);
    expect(index.status, index.stderr).toBe(0);
    expect(index.stdout).toMatch(/^REINDEX INDEX CONCURRENTLY idx_shop_embeddings_vector: \d+ ms$/m);
  });

  it("the kill switch without a redeploy: the server logs `backfill disabled` and the backlog says so", async () => {
    const set = runCli(["flags", "set", "embeddings.backfill.enabled", "false", "--reason", "runbook 000 option A"], env);
    expect(set.status, set.stderr).toBe(0);
    await until(
      async () =>
        output()
          .split("\n")
          .filter((l) => /backfill.*disabled/.test(l)).length,
      (n) => n >= 1,
      10_000,
      "backfill disabled logged",
    );
    expect(runCli(["backlog"], env).stdout).toMatch(/^Backfill: DISABLED \(runtime\)/);
    expect(runCli(["flags", "unset", "embeddings.backfill.enabled", "--reason", "done"], env).status).toBe(0);
  });
});
