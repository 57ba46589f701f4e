/** See node-flags.js: V8's WebAssembly tiering budget every `sluice` process runs with. */
export declare const WASM_TIERING_BUDGET_FLAG: string;
