import type { Client } from "../client.ts";
import { table } from "../output.ts";

interface ReadyBody {
  ready: boolean;
  checks: Record<string, { ok: boolean; configured?: boolean; latency_ms?: number; error?: string; [k: string]: unknown }>;
}

/** Prints the server's readiness as a table; resolves to the exit code (0 ready, 1 not). */
export async function statusCommand(client: Client): Promise<number> {
  const { status, body } = await client.request<ReadyBody>("GET", "/ready");
  if (typeof body !== "object" || !("checks" in body)) {
    console.error(`Unexpected answer from ${client.base}/ready (HTTP ${status})`);
    return 1;
  }
  const rows = Object.entries(body.checks).map(([name, c]) => {
    const { ok, configured, latency_ms, error, ...rest } = c;
    const state = configured === false ? "not configured" : ok ? "ok" : "FAILING";
    return { check: name, state, latency_ms, detail: error ?? (Object.keys(rest).length > 0 ? rest : "") };
  });
  console.log(`Sluice at ${client.base}: ${body.ready ? "READY" : "NOT READY"}`);
  console.log(table(rows, ["check", "state", "latency_ms", "detail"]));
  return body.ready ? 0 : 1;
}
