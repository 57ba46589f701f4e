import { PGlite } from "@electric-sql/pglite";
import { createSluice } from "../src/sluice.ts";
const times: [number, string][] = [];
for (const m of ["query", "exec", "execProtocolRaw"] as const) {
  const orig = (PGlite.prototype as any)[m];
  (PGlite.prototype as any)[m] = async function (this: unknown, ...args: unknown[]) {
    const t = performance.now();
    try { return await orig.apply(this, args); } finally {
      const s = typeof args[0] === "string" ? args[0] : m === "execProtocolRaw" ? Buffer.from(args[0] as Uint8Array).toString("latin1").replace(/[^\x20-\x7e]/g, " ") : "?";
      times.push([performance.now() - t, `${m}: ${s.replace(/\s+/g, " ").slice(0, 140)}`]);
    }
  };
}
const t0 = performance.now();
const s = await createSluice({ env: { LOG_LEVEL: "silent", SLUICE_DATA_DIR: "/tmp/devprof/.sluice" } });
console.log("createSluice", Math.round(performance.now() - t0));
await s.close();
times.sort((a, b) => b[0] - a[0]);
console.log("total", Math.round(times.reduce((a, b) => a + b[0], 0)), "n", times.length);
for (const [t, q] of times.slice(0, 25)) console.log(Math.round(t), q);
