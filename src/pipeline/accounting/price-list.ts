/**
 * The built-in price list: data, not code. USD per million tokens, input and output, keyed
 * `provider/model` or `provider/*`. When a provider changes its list prices, change the numbers and
 * `asOf` together (docs/providers.md "Accounting" shows this table; a test keeps the two equal).
 * `AI_PRICES` replaces or extends any entry at start, without a release.
 */
export const PRICE_LIST = {
  /** The day these were the providers' published list prices. Contracts and batch discounts differ. */
  asOf: "2026-11-23",
  prices: {
    "openai/gpt-4o-mini": { input: 0.15, output: 0.6 },
    "openai/gpt-4o": { input: 2.5, output: 10 },
    "openai/gpt-4.1-mini": { input: 0.4, output: 1.6 },
    "openai/gpt-4.1": { input: 2, output: 8 },
    "openai/text-embedding-3-small": { input: 0.02, output: 0 },
    "openai/text-embedding-3-large": { input: 0.13, output: 0 },
    "anthropic/claude-3-5-haiku-latest": { input: 0.8, output: 4 },
    "anthropic/claude-3-5-sonnet-latest": { input: 3, output: 15 },
    "local/*": { input: 0, output: 0 },
    "rule/*": { input: 0, output: 0 },
  },
} as const;
