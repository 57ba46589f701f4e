import { countTokens as exactO200k } from "gpt-tokenizer/encoding/o200k_base";
import { describe, expect, it } from "vitest";
import { countTokens, MAX_TOKENIZED_CHARS } from "./tokens.ts";

describe("countTokens", () => {
  it("counts as OpenAI's o200k_base encoding does", () => {
    // Reference counts of the o200k_base encoding (gpt-4o).
    expect(countTokens("")).toBe(0);
    expect(countTokens("Hello, world!")).toBe(4);
    expect(countTokens("Great product, arrived fast and works perfectly. Love it!")).toBe(12);
  });

  it("counts what characters ÷ 4 gets wrong: digits, code and other scripts", () => {
    const digits = "3141592653589793238462643383279502884197";
    expect(countTokens(digits)).toBeGreaterThan(Math.ceil(digits.length / 4));
    const japanese = "東京は日本の首都です。";
    expect(countTokens(japanese)).toBeGreaterThan(Math.ceil(japanese.length / 4));
  });

  it("scales a count sampled from the start for very long texts, within a few percent", () => {
    const words = ["shipping", "refund", "excellent", "broken", "support", "quality", "2026", "naïve", "über"];
    const long = Array.from({ length: (MAX_TOKENIZED_CHARS * 3) / 8 }, (_, i) => words[(i * 7) % words.length]).join(" ");
    const exact = exactO200k(long);
    expect(Math.abs(countTokens(long) - exact) / exact).toBeLessThan(0.03);
  });
});
