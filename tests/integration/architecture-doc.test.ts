import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** docs/architecture.md draws the tree; a folder or port added without a line there fails here. */
const doc = readFileSync(new URL("../../docs/architecture.md", import.meta.url), "utf8");
const layout = doc.slice(doc.indexOf("```\nsrc/core/"), doc.indexOf("```\n", doc.indexOf("```\nsrc/core/") + 4));
const dirs = (path: string): string[] =>
  readdirSync(new URL(`../../${path}/`, import.meta.url), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);

describe("docs/architecture.md", () => {
  it("names every pipeline folder, adapter folder and port", () => {
    expect(layout.length).toBeGreaterThan(0);
    const missing = [
      ...dirs("src/pipeline")
        .filter((d) => !layout.includes(`  ${d}/`))
        .map((d) => `src/pipeline/${d}/`),
      ...dirs("src/adapters")
        .filter((d) => !new RegExp(`\\b${d}/`).test(layout))
        .map((d) => `src/adapters/${d}/`),
      ...readdirSync(new URL("../../src/ports/", import.meta.url))
        .filter((f) => !layout.includes(f))
        .map((f) => `src/ports/${f}`),
    ];
    expect(missing).toEqual([]);
  });
});
