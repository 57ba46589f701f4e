import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES } from "../../src/core/config.ts";

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

/** `NAME=` assignments, commented out or not. */
const assignedNames = (text: string): string[] => [...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string);

describe("files a deployment starts from", () => {
  it(".env.example names every setting of the config schema, once, and nothing else", () => {
    const names = assignedNames(read(".env.example"));
    expect(new Set(names).size, "a variable listed twice").toBe(names.length);
    // Regenerate with `node scripts/env-example.mjs` after documenting a setting in docs/configuration.md.
    expect([...names].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it("LICENSE is the MIT licence package.json declares", () => {
    const pkg = JSON.parse(read("package.json")) as { license: string };
    expect(pkg.license).toBe("MIT");
    expect(read("LICENSE")).toMatch(/^MIT License\n/);
  });
});
