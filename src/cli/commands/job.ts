import type { Command } from "commander";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface JobFlags extends ClientFlags {
  wait?: string;
}

interface JobAnswer {
  id: string;
  status: string;
  result: unknown;
  error: string | null;
}

/** Exit codes a script can branch on without parsing the JSON. */
const EXIT_BY_STATUS: Record<string, number> = { completed: 0, failed: 1 };
const EXIT_NOT_SETTLED = 2;

/**
 * `sluice job <id> [--wait N]`: one job of the key's workspace, over `GET /ai/jobs/{id}?wait=N`.
 * Prints the job as JSON; exits 0 when completed, 1 when failed, 2 when still unsettled.
 */
export function registerJobCommand(program: Command): void {
  withClientOptions(program.command("job <id>"))
    .description("show one job (jobs:read key); with --wait, block until it completes or fails (exit 0 completed, 1 failed, 2 not yet)")
    .option("--wait <seconds>", "wait up to this long (at most 60) for the job to settle")
    .action(async (id: string, flags: JobFlags) => {
      const query = flags.wait === undefined ? "" : `?wait=${encodeURIComponent(flags.wait)}`;
      const job = await clientFor(flags).call<JobAnswer>("GET", `/ai/jobs/${encodeURIComponent(id)}${query}`);
      console.log(JSON.stringify(job, null, 2));
      process.exitCode = EXIT_BY_STATUS[job.status] ?? EXIT_NOT_SETTLED;
    });
}
