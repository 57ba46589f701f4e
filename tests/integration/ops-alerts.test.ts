import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const dir = fileURLToPath(new URL("../../ops/prometheus/", import.meta.url));
const hasPromtool = spawnSync("sh", ["-c", "command -v promtool"]).status === 0;

describe.runIf(hasPromtool)("ops/prometheus alert rules", () => {
  it("are valid rules", () => {
    const result = spawnSync("promtool", ["check", "rules", "alerts.yml"], { cwd: dir, encoding: "utf8" });
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });

  it("fire on the series the runbooks describe, and only then (promtool test rules)", () => {
    const result = spawnSync("promtool", ["test", "rules", "alerts.test.yml"], { cwd: dir, encoding: "utf8" });
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });
});

describe("ops/prometheus test coverage", () => {
  it("tests every rule of alerts.yml both firing and not firing", async () => {
    const { parse } = await import("yaml");
    const rules = parse(readFileSync(join(dir, "alerts.yml"), "utf8")) as { groups: Array<{ rules: Array<{ alert?: string }> }> };
    const tests = parse(readFileSync(join(dir, "alerts.test.yml"), "utf8")) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
    };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const names = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((n): n is string => Boolean(n));
    expect(names.length).toBeGreaterThan(15);
    for (const name of names) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name} is never shown firing`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name} is never shown quiet`,
      ).toBe(true);
    }
  });
});
