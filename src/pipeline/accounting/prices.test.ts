import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PRICE_LIST } from "./price-list.ts";
import { BUILTIN_PRICES, createPriceTable } from "./prices.ts";

describe("the price table", () => {
  it("is the dated built-in list, overridden and extended by AI_PRICES entries", () => {
    const unknown: string[] = [];
    const table = createPriceTable({ "openai/gpt-4o-mini": { input: 0.1, output: 0.4 }, "vllm/*": { input: 0, output: 0 } }, (route) =>
      unknown.push(route),
    );
    expect(table.lookup("openai", "gpt-4o-mini")).toEqual({ input: 0.1, output: 0.4 });
    expect(table.lookup("openai", "gpt-4o")).toEqual(PRICE_LIST.prices["openai/gpt-4o"]);
    expect(table.lookup("vllm", "llama-3")).toEqual({ input: 0, output: 0 });
    expect(table.cost("openai", "gpt-4o", { inputTokens: 1_000_000, outputTokens: 500_000 })).toBeCloseTo(2.5 + 5);
    expect(table.cost("mystery", "m", { inputTokens: 10, outputTokens: 10 })).toBe(0);
    table.cost("mystery", "m", { inputTokens: 1, outputTokens: 1 });
    expect(unknown).toEqual(["mystery/m"]);
    expect(PRICE_LIST.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("is the table docs/providers.md shows, with its date", () => {
    const doc = readFileSync(new URL("../../../docs/providers.md", import.meta.url), "utf8");
    expect(doc).toContain(`list prices as of ${PRICE_LIST.asOf}`);
    const rows = [...doc.matchAll(/^\| `([a-z0-9-]+\/[^`]+)` \| ([\d.]+) \| ([\d.]+|—) \|$/gm)];
    const documented = Object.fromEntries(rows.map((m) => [m[1], { input: Number(m[2]), output: m[3] === "—" ? 0 : Number(m[3]) }]));
    const shown = Object.fromEntries(Object.entries(BUILTIN_PRICES).filter(([route]) => route !== "rule/*"));
    expect(documented).toEqual(shown);
  });
});
