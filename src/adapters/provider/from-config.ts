import type { SluiceConfig } from "../../core/config.ts";
import type { Provider } from "../../ports/provider.ts";
import { createAnthropicProvider } from "./anthropic/provider.ts";
import { createLocalProvider } from "./local/provider.ts";
import { createOpenAIProvider } from "./openai/provider.ts";

/**
 * Every provider the configuration makes usable: `local` always (it needs nothing), `openai`
 * when it has a key or a base URL, `anthropic` when it has a key.
 */
export function createProvidersFromConfig(config: SluiceConfig): Provider[] {
  const { ai } = config;
  const providers: Provider[] = [createLocalProvider({ dimensions: ai.embeddingDimensions })];
  if (ai.openai.apiKey || ai.openai.baseUrl) {
    providers.push(createOpenAIProvider({ apiKey: ai.openai.apiKey, baseURL: ai.openai.baseUrl, timeoutMs: ai.requestTimeoutMs }));
  }
  if (ai.anthropic.apiKey) {
    providers.push(createAnthropicProvider({ apiKey: ai.anthropic.apiKey, baseURL: ai.anthropic.baseUrl, timeoutMs: ai.requestTimeoutMs }));
  }
  return providers;
}
