// V8 settings for every `sluice` process, applied before anything compiles PGlite's WebAssembly.
//
// By default V8 recompiles a WebAssembly function with its optimising compiler (TurboFan, on
// background threads) once it has run about 1.8 MB of code. PGlite is a whole PostgreSQL in one
// large module: opening a data folder and running a few statements already crosses that budget for
// thousands of functions, so a short command spent more CPU compiling than working. With a budget
// 33 times larger, hot loops (a backfill, a search) still get optimised code within seconds.
// Measured on 2 cores: `sluice keys create` on an embedded folder 4.2 s of CPU before, 3.0 s after;
// `sluice dev` ready on an existing folder 4.0-4.6 s and 5.6-6.5 s of CPU before, 3.3 s and 4.2 s
// after; `bench/backfill.ts --items 10000` 389-439 items/s before, 417-460 after (no loss).
export const WASM_TIERING_BUDGET_FLAG = "--wasm-tiering-budget=60000000";
