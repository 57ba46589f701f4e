import type { Command } from "commander";

/** `sluice alerts render > alerts.yml`: the Prometheus rules for this environment's QUEUE_THRESHOLDS. */
export function registerAlertCommands(program: Command): void {
  const alerts = program.command("alerts").description("Prometheus alert rules");
  alerts
    .command("render")
    .description(
      "print the Prometheus rule file: the shipped rules plus one per queue threshold of QUEUE_THRESHOLDS (promtool check rules accepts it)",
    )
    .action(async () => {
      // Imported here: config validation loads zod, which `sluice --help` must not pay for.
      const [{ loadConfig }, { renderAlertRules }] = await Promise.all([
        import("../../core/config.ts"),
        import("../../pipeline/ops/alert-rules.ts"),
      ]);
      process.stdout.write(renderAlertRules(loadConfig(process.env).queue.thresholds));
    });
}
