/**
 * Prices in USD per million tokens, input and output, keyed `provider/model` or `provider/*`.
 * The built-in table holds list prices of a few well-known models (as published when this table
 * was written; check your contract) and 0 for the offline providers. `AI_PRICES` entries replace
 * or extend it; a model in neither is counted at 0 and logged once.
 */
export interface Price {
  readonly input: number;
  readonly output: number;
}

export const BUILTIN_PRICES: Readonly<Record<string, Price>> = Object.freeze({
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
});

export interface PriceTable {
  /** The price of a route, or undefined when neither the table nor the overrides know it. */
  lookup(provider: string, model: string): Price | undefined;
  /** USD for this usage on this route (0 for an unknown route). */
  cost(provider: string, model: string, usage: { inputTokens: number; outputTokens: number }): number;
  /** The merged table, for docs and the usage API. */
  entries(): Record<string, Price>;
}

export function createPriceTable(overrides: Readonly<Record<string, Price>> = {}, onUnknown?: (route: string) => void): PriceTable {
  const table: Record<string, Price> = { ...BUILTIN_PRICES, ...overrides };
  const warned = new Set<string>();
  const lookup = (provider: string, model: string): Price | undefined => table[`${provider}/${model}`] ?? table[`${provider}/*`];
  return {
    lookup,
    cost(provider, model, usage) {
      const price = lookup(provider, model);
      if (!price) {
        const route = `${provider}/${model}`;
        if (!warned.has(route)) {
          warned.add(route);
          onUnknown?.(route);
        }
        return 0;
      }
      return (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
    },
    entries: () => ({ ...table }),
  };
}
