import { describe, expect, it } from "vitest";
import { cosineSimilarity, hashedEmbedding, tokenize } from "./hashed-embedding.ts";
import { createLocalProvider } from "./provider.ts";
import { classifyByLabels, classifySentiment, extractiveSummary } from "./rules.ts";
import { countTokens } from "../../../core/tokens.ts";

describe("local hashed embeddings", () => {
  it("are unit length, of the asked dimension, and the same on every call", () => {
    const a = hashedEmbedding("Refund my order, please", 384);
    expect(a).toHaveLength(384);
    expect(Math.sqrt(a.reduce((s, v) => s + v * v, 0))).toBeCloseTo(1, 10);
    expect(hashedEmbedding("Refund my order, please", 384)).toEqual(a);
    expect(hashedEmbedding("", 64).some((v) => v !== 0)).toBe(true);
  });

  it("folds case and accents", () => {
    expect(tokenize("Mulțumesc FOARTE mult")).toEqual(["multumesc", "foarte", "mult"]);
    expect(cosineSimilarity(hashedEmbedding("Café Crème", 128), hashedEmbedding("cafe creme", 128))).toBeCloseTo(1, 10);
  });

  it("scores paraphrases above unrelated texts", () => {
    const pairs: [string, string, string][] = [
      ["The cat sat on the mat", "A cat was sitting on the mat", "Quarterly revenue grew five percent"],
      ["My order arrived late and the box was damaged", "The package was delivered late and damaged", "I love the new dashboard colours"],
      ["How do I reset my password?", "Resetting a forgotten password", "Shipping to Romania takes three days"],
    ];
    for (const [text, paraphrase, unrelated] of pairs) {
      const v = hashedEmbedding(text, 384);
      const close = cosineSimilarity(v, hashedEmbedding(paraphrase, 384));
      const far = cosineSimilarity(v, hashedEmbedding(unrelated, 384));
      expect(close, `${text} ~ ${paraphrase}`).toBeGreaterThan(far + 0.2);
    }
  });
});

describe("local rules", () => {
  it("classifies sentiment with negation", () => {
    expect(classifySentiment("I love it, works great").label).toBe("positive");
    expect(classifySentiment("Terrible support, still broken").label).toBe("negative");
    expect(classifySentiment("This is not good at all").label).toBe("negative");
    expect(classifySentiment("No problems so far").label).toBe("positive");
    expect(classifySentiment("The meeting is on Tuesday").label).toBe("neutral");
    expect(classifySentiment("Sunt foarte nemulțumit, livrare cu întârziere").label).toBe("negative");
  });

  it("summarises by picking the most central sentences in order", () => {
    const text =
      "Queues hold jobs. Workers take jobs from queues and run them. The weather was nice. Jobs that fail go back to the queues. Lunch was at noon.";
    const summary = extractiveSummary(text, { maxSentences: 2 });
    expect(summary).toContain("queues");
    expect(summary).not.toContain("Lunch");
    expect(summary.length).toBeLessThan(text.length);
  });

  it("picks the label that matches the text", () => {
    expect(classifyByLabels("I was charged twice on my invoice billing", ["shipping", "billing", "technical"])).toBe("billing");
    expect(classifyByLabels("anything", [])).toBeUndefined();
  });
});

describe("local provider completions", () => {
  const local = createLocalProvider();
  const ask = (prompt: string, maxOutputTokens = 100) => local.complete({ model: "any", prompt, maxOutputTokens });

  it("answers sentiment prompts with a label (JSON when asked)", async () => {
    expect((await ask("Classify the sentiment of this review as positive, negative or neutral:\n\nAwesome, fast delivery")).text).toBe(
      "positive",
    );
    const json = JSON.parse((await ask("Return JSON with the sentiment.\n\nAwful, it crashed twice")).text) as { label: string };
    expect(json.label).toBe("negative");
  });

  it("answers classification prompts with one of the given labels", async () => {
    const result = await ask("Classify the ticket. Labels: billing, shipping, technical\n\nThe parcel shipping is stuck in customs");
    expect(result.text).toBe("shipping");
  });

  it("echoes other prompts within maxOutputTokens and says so in finishReason", async () => {
    const long = "word ".repeat(100).trim();
    const result = await ask(long, 10);
    expect(result.text.length).toBeLessThanOrEqual(40);
    expect(result.finishReason).toBe("length");
    expect(result.model).toBe("sluice-local-rules-v1");
    expect(result.usage.inputTokens).toBe(countTokens(long));
  });
});
