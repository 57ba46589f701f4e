import { createPgliteStore } from "../../../src/adapters/store/pglite/store.ts";
import { storeConformance } from "./store-suite.ts";
import { testPgliteDataDir } from "../../harness/pglite-template.ts";

storeConformance({
  name: "PGlite in-process",
  vector: true,
  open: async () => ({ store: await createPgliteStore({ dataDir: testPgliteDataDir() }) }),
});
