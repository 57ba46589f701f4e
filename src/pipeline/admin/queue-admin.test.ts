import { describe, expect, it } from "vitest";
import { SluiceError } from "../../core/errors.ts";
import { parseGraceMs } from "./queue-admin.ts";

describe("parseGraceMs", () => {
  it("reads numbers and bare numeric strings as seconds, as the runbooks write them", () => {
    expect(parseGraceMs(3600, 0)).toBe(3_600_000);
    expect(parseGraceMs("3600", 0)).toBe(3_600_000);
    expect(parseGraceMs(" 1.5 ", 0)).toBe(1_500);
    expect(parseGraceMs(undefined, 42)).toBe(42);
  });

  it("reads durations with a unit", () => {
    expect(parseGraceMs("24h", 0)).toBe(86_400_000);
    expect(parseGraceMs("90m", 0)).toBe(5_400_000);
    expect(parseGraceMs("500ms", 0)).toBe(500);
    expect(parseGraceMs("30s", 0)).toBe(30_000);
    expect(parseGraceMs("7d", 0)).toBe(604_800_000);
    expect(parseGraceMs("24 h", 0)).toBe(86_400_000);
    expect(parseGraceMs("2 days", 0)).toBe(172_800_000);
  });

  it("refuses what is not a duration, negative ones included, with VALIDATION_FAILED", () => {
    for (const bad of ["", "soon", "-1h", "1x", "h", "x".repeat(200), -5, Number.NaN]) {
      expect(() => parseGraceMs(bad, 0), String(bad)).toThrow(SluiceError);
      try {
        parseGraceMs(bad, 0);
      } catch (err) {
        expect((err as SluiceError).code).toBe("VALIDATION_FAILED");
      }
    }
  });
});
