import type { Command } from "commander";
import type { QueueWorkerView, WorkerProcessView } from "../../pipeline/queues/worker-registry.ts";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

type Flags = ClientFlags & { json?: boolean };

const queuesCell = (p: WorkerProcessView) => p.queues.map((q) => `${q.queue}=${q.active}/${q.concurrency}`).join(",");

/** `sluice workers [queue]` and `sluice workers concurrency <queue> <n|default>` (seed 003 §3.1, seed 004 "increase concurrency"). */
export function registerWorkerCommands(program: Command): void {
  const workers = withClientOptions(program.command("workers [queue]"))
    .description("every live worker process (host, pid, role, queues as queue=active/concurrency, last seen), or those serving one queue")
    .option("--json", "print JSON")
    .action(async (queue: string | undefined, flags: Flags) => {
      const client = clientFor(flags);
      if (queue) {
        const result = await client.call<{ workers: QueueWorkerView[] }>("GET", `/api/admin/workers/${encodeURIComponent(queue)}`);
        if (flags.json) return console.log(JSON.stringify(result.workers, null, 2));
        return console.log(
          table(result.workers as unknown as Array<Record<string, unknown>>, [
            "host",
            "pid",
            "role",
            "concurrency",
            "active",
            "started_at",
            "last_seen",
          ]),
        );
      }
      const result = await client.call<{ workers: WorkerProcessView[] }>("GET", "/api/admin/workers");
      if (flags.json) return console.log(JSON.stringify(result.workers, null, 2));
      console.log(
        table(
          result.workers.map((p) => ({ ...p, queues: queuesCell(p) })),
          ["host", "pid", "role", "queues", "active", "started_at", "last_seen"],
        ),
      );
    });

  withClientOptions(workers.command("concurrency <queue> <n>"))
    .description(
      "set how many jobs of the queue each worker runs at once, without a restart (audited); `default` goes back to the configured value",
    )
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (queue: string, n: string, flags: ClientFlags & { reason?: string }) => {
      const concurrency = n === "default" ? null : Number(n);
      if (concurrency !== null && !(Number.isInteger(concurrency) && concurrency >= 1))
        throw new Error(`concurrency must be a whole number, 1 or more, or "default": ${n}`);
      await clientFor(flags).call("POST", "/api/admin/workers/concurrency", {
        queue,
        concurrency,
        ...(flags.reason ? { reason: flags.reason } : {}),
      });
      console.log(
        concurrency === null
          ? `Workers of ${queue} go back to their configured concurrency.`
          : `Workers of ${queue} now run ${concurrency} job(s) at once each.`,
      );
    });
}
