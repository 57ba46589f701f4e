import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { CONFIG_VARIABLES } from "../../src/core/config.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

const ROOT = new URL("../../", import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, ROOT), "utf8");
const exists = (path: string): boolean => existsSync(new URL(path, ROOT));

/** `NAME=` assignments, commented out or not. */
const assignedNames = (text: string): string[] => [...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string);

interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  configs?: Array<{ source: string }>;
}
interface Compose {
  services: Record<string, ComposeService>;
  configs: Record<string, { content: string }>;
}
const compose = (): Compose => parseYaml(read("ops/deploy/compose.yaml"), { merge: true }) as Compose;

/** Metric names in PromQL expressions: identifiers followed by `{` or `[`, histogram suffixes dropped. */
function metricNames(exprs: string[]): string[] {
  const names = exprs.flatMap((e) => [...e.matchAll(/\b([a-z_][a-z0-9_]*)(?=\{|\[)/g)].map((m) => (m[1] ?? "").replace(/_bucket$/, "")));
  return [...new Set(names)];
}

describe("files a deployment starts from", () => {
  it(".env.example names every setting of the config schema, once, and nothing else", () => {
    const names = assignedNames(read(".env.example"));
    expect(new Set(names).size, "a variable listed twice").toBe(names.length);
    // Regenerate with `node scripts/env-example.mjs` after documenting a setting in docs/configuration.md.
    expect([...names].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it("LICENSE is the MIT licence package.json declares", () => {
    const pkg = JSON.parse(read("package.json")) as { license: string };
    expect(pkg.license).toBe("MIT");
    expect(read("LICENSE")).toMatch(/^MIT License\n/);
  });

  it("the Dockerfile copies what exists and runs the compiled CLI", () => {
    const dockerfile = read("ops/deploy/Dockerfile");
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] ?? "").split(" "));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) expect(exists(source), source).toBe(true);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/sluice.js"]');
  });
});

describe("ops/deploy/compose.yaml", () => {
  it("runs an API and a worker configured only with real settings", () => {
    const { services } = compose();
    expect(services["sluice-api"]?.command).toEqual(["start", "--role", "api"]);
    expect(services["sluice-worker"]?.command).toEqual(["start", "--role", "worker"]);
    for (const name of ["sluice-api", "sluice-worker"]) {
      const settings = Object.keys(services[name]?.environment ?? {});
      expect(settings).toContain("DATABASE_URL");
      for (const setting of settings) expect(CONFIG_VARIABLES, `${name}: ${setting}`).toContain(setting);
    }
  });

  it("gives the queues a Redis that never evicts and writes an append-only file", () => {
    const command = compose().services.redis?.command?.join(" ") ?? "";
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(command).toMatch(/--appendonly yes/);
  });

  it("runs PostgreSQL with pgvector, Prometheus with the shipped rules scraping both processes, Grafana provisioned", () => {
    const { services, configs } = compose();
    expect(services.postgres).toMatchObject({ image: expect.stringMatching(/^pgvector\/pgvector:/) as unknown });
    expect(services.prometheus?.volumes).toContain("../prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro");
    const prometheus = parseYaml(configs["prometheus-config"]?.content ?? "") as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const job = prometheus.scrape_configs.find((j) => j.job_name === "sluice");
    expect(job?.static_configs[0]?.targets).toEqual(["sluice-api:3000", "sluice-worker:3000"]);
    for (const volume of [...(services.prometheus?.volumes ?? []), ...(services.grafana?.volumes ?? [])]) {
      const source = volume.split(":")[0] ?? "";
      if (source.startsWith(".")) expect(exists(`ops/deploy/${source}`), volume).toBe(true);
    }
  });
});

describe("the Grafana dashboard", () => {
  let t: TestSluice;
  let metrics: string;
  beforeAll(async () => {
    t = await startTestSluice();
    // As the compose worker does: some series (jobs deferred) exist once workers run.
    await t.sluice.startWorkers();
    metrics = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("queries only metrics a running Sluice exports", () => {
    const dashboard = JSON.parse(read("ops/deploy/grafana/dashboards/sluice.json")) as {
      panels: Array<{ targets?: Array<{ expr: string }> }>;
    };
    const names = metricNames(dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => target.expr)));
    expect(names.length).toBeGreaterThan(15);
    for (const name of names) expect(metrics, name).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
  });
});
