import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startDev, type DevServer } from "../harness/cli.ts";

/** `sluice flags|cache|usage` against a real `sluice dev` over a real socket, as an operator runs them. */
describe("sluice flags, cache and usage commands", () => {
  let dev: DevServer;
  let env: Record<string, string>;
  let cwd: string;

  beforeAll(async () => {
    dev = await startDev({ DISABLED_PROVIDERS: "anthropic" });
    env = dev.env;
    cwd = dev.cwd;
  });
  afterAll(async () => {
    await dev.stop();
  });

  it("flags list, set (reason required), unset", () => {
    const list = runCli(["flags", "list"], env);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^NAME\s+VALUE\s+SOURCE/m);
    expect(list.stdout).toMatch(/^provider\.anthropic\.enabled\s+false\s+env/m);
    expect(list.stdout).toMatch(/^task\.classify\.enabled\s+true\s+env/m);
    expect(runCli(["flags", "set", "task.classify.enabled", "false"], env).status).not.toBe(0);
    const set = runCli(["flags", "set", "task.classify.enabled", "false", "--reason", "drill"], env);
    expect(set.status, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/task\.classify\.enabled\s+false\s+runtime/);
    const bad = runCli(["flags", "set", "task.classify.enabled", "perhaps", "--reason", "x"], env);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("FLAG_INVALID");
    const unset = runCli(["flags", "unset", "task.classify.enabled", "--reason", "drill over"], env);
    expect(unset.stdout).toMatch(/task\.classify\.enabled\s+true\s+env/);
  });

  it("cache warm from a file, stats, clear by pattern", () => {
    // Other work in `sluice dev` (e.g. the embeddings backfill) may cache too: compare with before.
    const keys = () => (JSON.parse(runCli(["cache", "stats", "--json"], env).stdout) as { engine: string; keys: number }).keys;
    const before = keys();
    const file = join(cwd, "warm.json");
    writeFileSync(
      file,
      JSON.stringify([
        { type: "classify", input: { text: "nice and unusual words" } },
        { type: "classify", input: { text: "another odd sentence" } },
        { type: "nope", input: {} },
      ]),
    );
    const warm = runCli(["cache", "warm", file, "--reason", "after deploy"], env);
    expect(warm.stdout).toContain("Warmed 2, already cached 0, not cacheable 0, failed 1 (of 3).");
    expect(warm.stdout).toContain("JOB_TYPE_UNKNOWN");
    expect(warm.status).toBe(1);
    expect(JSON.parse(runCli(["cache", "stats", "--json"], env).stdout)).toMatchObject({ engine: "memory", counters: "process" });
    expect(keys()).toBeGreaterThanOrEqual(before + 2);
    const clear = runCli(["cache", "clear", "--pattern", "classify:*", "--reason", "test"], env);
    const removed = Number(/Removed (\d+) cached result\(s\) matching classify:\* \(memory\)\./.exec(clear.stdout)?.[1]);
    expect(removed).toBeGreaterThanOrEqual(2);
    expect(runCli(["cache", "warm", file], env).stdout).toContain("Warmed 2, already cached 0");
    expect(runCli(["cache", "stats"], env).stdout).toMatch(/^memory\s+true\s+\d+\s+\d+\s+[\d.]+\s+\d+\s/m);
  });

  it("usage shows the warm-up's calls; budget sets a workspace's daily tokens", () => {
    const usage = runCli(["usage", "--days", "1"], env);
    expect(usage.status, usage.stderr).toBe(0);
    expect(usage.stdout).toMatch(/^\d{4}-\d{2}-\d{2}\s+dev\s+local\s+\S+\s+\d+\s+\d+\s+0\s+\d+/m);
    const budget = runCli(["usage", "budget", "dev", "1000000", "--reason", "cap"], env);
    expect(budget.status, budget.stderr).toBe(0);
    expect(budget.stdout).toMatch(/^dev\s+1000000\s+workspace/m);
    expect(runCli(["usage", "--workspace", "dev", "--json"], env).stdout).toContain('"daily_token_budget": 1000000');
  });
});
