import { spawnSync } from "node:child_process";
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
