import type { Command } from "commander";
import { loadConfig } from "../../core/config.ts";
import { renderAlertRules } from "../../pipeline/ops/alert-rules.ts";

/** `sluice alerts render > alerts.yml`: the Prometheus rules for this environment's QUEUE_THRESHOLDS. */
export function registerAlertCommands(program: Command): void {
  const alerts = program.command("alerts").description("Prometheus alert rules");
  alerts
    .command("render")
    .description(
      "print the Prometheus rule file: the shipped rules plus one per queue threshold of QUEUE_THRESHOLDS (promtool check rules accepts it)",
    )
    .action(() => {
      process.stdout.write(renderAlertRules(loadConfig(process.env).queue.thresholds));
    });
}
