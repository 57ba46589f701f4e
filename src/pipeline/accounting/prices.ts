import { PRICE_LIST } from "./price-list.ts";

/**
 * Prices in USD per million tokens, input and output, keyed `provider/model` or `provider/*`.
 * The built-in list is data (./price-list.ts, dated); `AI_PRICES` entries replace or extend it; a
 * model in neither is counted at 0 and logged once.
 */
export interface Price {
  readonly input: number;
  readonly output: number;
}

export const BUILTIN_PRICES: Readonly<Record<string, Price>> = Object.freeze({ ...PRICE_LIST.prices });

/** @public The day the built-in list was the providers' list prices. */
export const BUILTIN_PRICES_AS_OF: string = PRICE_LIST.asOf;

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
