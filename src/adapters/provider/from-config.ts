import type { SluiceConfig } from "../../core/config.ts";
import type { Provider } from "../../ports/provider.ts";
import { createLocalProvider } from "./local/provider.ts";

/**
 * Every provider the configuration makes usable: `local` always (it needs nothing), `openai`
 * when it has a key or a base URL, `anthropic` when it has a key. The SDKs are imported only when
 * configured: loading them costs about a second of a start that does not use them (`sluice dev`).
 */
export async function createProvidersFromConfig(config: SluiceConfig): Promise<Provider[]> {
  const { ai } = config;
  const providers: Provider[] = [createLocalProvider({ dimensions: ai.embeddingDimensions })];
  if (ai.openai.apiKey || ai.openai.baseUrl) {
    const { createOpenAIProvider } = await import("./openai/provider.ts");
    providers.push(createOpenAIProvider({ apiKey: ai.openai.apiKey, baseURL: ai.openai.baseUrl, timeoutMs: ai.requestTimeoutMs }));
  }
  if (ai.anthropic.apiKey) {
    const { createAnthropicProvider } = await import("./anthropic/provider.ts");
    providers.push(createAnthropicProvider({ apiKey: ai.anthropic.apiKey, baseURL: ai.anthropic.baseUrl, timeoutMs: ai.requestTimeoutMs }));
  }
  return providers;
}
