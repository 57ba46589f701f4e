#!/usr/bin/env node
// Runs the compiled build (dist/, written by `npm run build`, which `npm ci` runs as `prepare`):
// plain JavaScript starts in a fraction of a second, where compiling the TypeScript at each start
// took many seconds on a busy machine.
import { existsSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { WASM_TIERING_BUDGET_FLAG } from "./node-flags.js";

setFlagsFromString(WASM_TIERING_BUDGET_FLAG);

const main = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("sluice: dist/ is missing: run `npm run build` (npm ci and npm install run it for you)\n");
  process.exit(1);
}
await import(main.href);
