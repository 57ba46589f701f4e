import { runsConformance } from "./runs-suite.ts";

runsConformance({ name: "embedded PGlite (store and queues)", env: async () => ({}) });
