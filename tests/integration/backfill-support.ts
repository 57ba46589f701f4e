import { rmSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { createLogger } from "../../src/adapters/log/pino.ts";
import { buildServer } from "../../src/server/app.ts";
import { createSluice, type Sluice } from "../../src/sluice.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

/** Shared by the backfill-*.test.ts and embeddings-api-*.test.ts files. */

export interface LoggedSluice {
  sluice: Sluice;
  app: FastifyInstance;
  /** Every log line so far, parsed (the JSON pino writes). */
  logs(): Array<Record<string, unknown> & { msg?: string }>;
  /** The raw lines, as `docker compose logs` would show them. */
  rawLogs(): string[];
  close(): Promise<void>;
}

/** A Sluice (embedded PGlite in a temp folder unless env says otherwise) whose info-level logs are kept for assertions. */
export async function startLoggedSluice(env: Record<string, string | undefined> = {}): Promise<LoggedSluice> {
  const dataDir = fileTempDir("sluice-backfill-");
  const lines: string[] = [];
  const logger = createLogger({ level: "info", destination: { write: (line: string) => void lines.push(line) } });
  const sluice = await createSluice({ env: { SLUICE_DATA_DIR: dataDir, ...env }, logger });
  const app = await buildServer(sluice);
  await app.ready();
  return {
    sluice,
    app,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown> & { msg?: string }),
    rawLogs: () => [...lines],
    async close() {
      await app.close();
      await sluice.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const auth = (key: string) => ({ authorization: `Bearer ${key}` });
export { sleep, until } from "../harness/wait.ts";

export interface StatusCounts {
  pending: number;
  processing: number;
  completed: number;
  failed: number;
  total: number;
}

/** Items per status (of one workspace, or all), read with the runbook's own GROUP BY. */
export async function statusCounts(sluice: Sluice, workspaceId?: string): Promise<StatusCounts> {
  const { rows } = await sluice.store.query<{ status: keyof StatusCounts; count: number }>(
    `SELECT status, COUNT(*) AS count FROM shop_product_embeddings ${workspaceId ? "WHERE shop_id = $1" : ""} GROUP BY status`,
    workspaceId ? [workspaceId] : [],
  );
  const counts: StatusCounts = { pending: 0, processing: 0, completed: 0, failed: 0, total: 0 };
  for (const row of rows) {
    counts[row.status] = row.count;
    counts.total += row.count;
  }
  return counts;
}

/** A metric's value from the /metrics text (sum over the series matching `labels`). */
export async function metricValue(app: FastifyInstance, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
  let sum = 0;
  let seen = false;
  for (const line of text.split("\n")) {
    const match = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (!match) continue;
    const set = match[1] ?? "";
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) {
      sum += Number(match[2]);
      seen = true;
    }
  }
  // A labelled gauge with no series yet prints only its HELP/TYPE lines: that reads as 0.
  if (!seen && !text.includes(`# TYPE ${name} `) && !text.includes(`# TYPE ${name.replace(/_(count|sum|bucket)$/, "")} `))
    throw new Error(`metric ${name} not exposed`);
  return sum;
}

/** Items with some variety: colours and kinds for metadata filters. */
export function catalogue(n: number, prefix = "p", from = 0): Array<{ id: string; text: string; metadata: Record<string, unknown> }> {
  const colours = ["red", "blue", "green", "black"];
  const kinds = ["running shoe", "cotton shirt", "leather bag", "wool hat", "denim jacket"];
  return Array.from({ length: n }, (_, j) => {
    const i = j + from;
    const colour = colours[i % colours.length] as string;
    const kind = kinds[i % kinds.length] as string;
    return { id: `${prefix}-${i}`, text: `${colour} ${kind} model ${i}`, metadata: { colour, kind, n: i } };
  });
}

/** Sluice's environment for embeddings through the OpenAI adapter against the fake provider server. */
export function fakeOpenAIEnv(fake: { openaiBaseUrl: string }): Record<string, string> {
  return { AI_PROVIDER: "openai", AI_EMBEDDING_PROVIDER: "openai", OPENAI_BASE_URL: fake.openaiBaseUrl, OPENAI_API_KEY: "sk-test" };
}
