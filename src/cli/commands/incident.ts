import { resolve } from "node:path";
import type { Command } from "commander";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface IncidentFlags extends ClientFlags {
  output?: string;
  logLines: string;
}

function defaultName(): string {
  const d = new Date();
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `sluice-incident-${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}.tar.gz`;
}

/** `sluice incident bundle`: seed 000's "collect logs" step, with everything else an incident review asks for. */
export function registerIncidentCommands(program: Command): void {
  const incident = program.command("incident").description("incident tooling");
  withClientOptions(incident.command("bundle"))
    .description(
      "one .tar.gz with status, health, queues and their recent errors and failed jobs, backlog, flags, cache, schedules, doctor, the redacted configuration and the last LOG_FILE lines",
    )
    .option("-o, --output <file>", "the archive to write (default sluice-incident-YYYYMMDDHHMM.tar.gz)")
    .option("--log-lines <n>", "how many of the last LOG_FILE lines to include", "1000")
    .action(async (flags: IncidentFlags) => {
      const { writeIncidentBundle } = await import("../incident-bundle.ts");
      const { runDoctor } = await import("./doctor.ts");
      const client = clientFor(flags);
      const output = resolve(flags.output ?? defaultName());
      const collected = await writeIncidentBundle({
        client,
        output,
        apiKey: flags.apiKey,
        env: process.env,
        logLines: Math.max(1, Number(flags.logLines) || 1000),
        doctor: () => runDoctor(client, resolve(process.env.SLUICE_DATA_DIR ?? ".")),
      });
      const missing = collected.filter((c) => !c.ok);
      console.log(
        `Wrote ${output} (${collected.length} files${missing.length > 0 ? `; not collected: ${missing.map((c) => `${c.file}${c.note ? ` (${c.note})` : ""}`).join(", ")}` : ""})`,
      );
    });
}
