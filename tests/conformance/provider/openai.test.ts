import { afterAll, beforeAll } from "vitest";
import { createOpenAIProvider } from "../../../src/adapters/provider/openai/provider.ts";
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
  name: "openai client against the fake OpenAI-compatible server",
  open: async ({ timeoutMs }) => ({ provider: createOpenAIProvider({ baseURL: server.openaiBaseUrl, apiKey: "sk-test", timeoutMs }) }),
  server: () => server,
  gaps: [],
  chatModel: "gpt-4o-mini",
  embeddingModel: "text-embedding-3-small",
});
