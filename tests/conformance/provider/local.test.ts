import { createLocalProvider } from "../../../src/adapters/provider/local/provider.ts";
import { providerConformance } from "./provider-suite.ts";

providerConformance({
  name: "local (rules and hashed embeddings, offline)",
  open: async () => ({ provider: createLocalProvider() }),
  gaps: [],
  chatModel: "local",
  embeddingModel: "local",
});
