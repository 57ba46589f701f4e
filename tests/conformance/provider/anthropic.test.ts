import { afterAll, beforeAll } from "vitest";
import { createAnthropicProvider } from "../../../src/adapters/provider/anthropic/provider.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../../fakes/openai-server.ts";
import { providerConformance } from "./provider-suite.ts";

let server: FakeProviderServer;
beforeAll(async () => {
  server = await startFakeProviderServer();
});
afterAll(async () => {
  await server.close();
});

providerConformance({
  name: "anthropic client against the fake server's Messages API",
  open: async ({ timeoutMs }) => ({
    provider: createAnthropicProvider({ baseURL: server.anthropicBaseUrl, apiKey: "sk-ant-test", timeoutMs }),
  }),
  server: () => server,
  // Anthropic has no embeddings API: the suite checks PROVIDER_UNSUPPORTED instead.
  gaps: ["embed"],
  chatModel: "claude-3-5-haiku-latest",
  embeddingModel: "none",
});
