import { describe, expect, it } from "vitest";
import { buildInputJsonl, parseOutputJsonl } from "./batch-jsonl.ts";

const item = (id: number, text: string) => ({ id, workspaceId: "w", externalId: `e${id}`, text, contentHash: "h", retryCount: 0 });
const ok = (id: number | string, embedding: unknown, model = "text-embedding-3-small") =>
  JSON.stringify({ custom_id: `item-${id}`, response: { status_code: 200, body: { data: [{ embedding }], model } }, error: null });

describe("batch JSONL", () => {
  it("writes one /v1/embeddings request per item, named by item id", () => {
    const lines = buildInputJsonl([item(7, "red shoe"), item(9, "blue\nshirt")], { model: "m", dimensions: 3, sendDimensions: true })
      .trimEnd()
      .split("\n");
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        custom_id: "item-7",
        method: "POST",
        url: "/v1/embeddings",
        body: { model: "m", input: "red shoe", encoding_format: "float", dimensions: 3 },
      },
      {
        custom_id: "item-9",
        method: "POST",
        url: "/v1/embeddings",
        body: { model: "m", input: "blue\nshirt", encoding_format: "float", dimensions: 3 },
      },
    ]);
  });

  it("parses results, per-line errors (4xx permanent, 5xx not), bad vectors, and ignores foreign or repeated lines", () => {
    const text = [
      ok(1, [0.1, 0.2, 0.3]),
      JSON.stringify({ custom_id: "item-2", response: { status_code: 400, body: { error: { message: "too long" } } }, error: null }),
      JSON.stringify({ custom_id: "item-3", response: { status_code: 500, body: {} }, error: null }),
      JSON.stringify({ custom_id: "item-4", response: null, error: { code: "batch_expired", message: "expired" } }),
      ok(5, [0.1, 0.2]),
      ok("x", [1, 2, 3]),
      ok(1, [9, 9, 9]),
      "not json",
      "",
    ].join("\n");
    const parsed = parseOutputJsonl(text, 3);
    expect(parsed.results).toEqual([{ id: 1, vector: [0.1, 0.2, 0.3] }]);
    expect(parsed.model).toBe("text-embedding-3-small");
    expect(parsed.failures).toEqual([
      { id: 2, message: "too long", permanent: true },
      { id: 3, message: "provider batch answered 500 for this item", permanent: false },
      { id: 4, message: "expired", permanent: false },
      { id: 5, message: expect.stringContaining("has 2 dimensions, expected 3") },
    ]);
    expect(parsed.ignored).toBe(3);
  });
});
