import type { SluiceConfig } from "../../../core/config.ts";
import type { ActionRegistry } from "../define.ts";
import { emailSend } from "./email.ts";
import { githubActions } from "./github.ts";
import { gmailSend } from "./gmail.ts";
import { outlookSend } from "./outlook.ts";
import { taskCreate } from "./task-create.ts";
import { webhookPost } from "./webhook.ts";

/** Registers every built-in action, configured or not: an unconfigured one fails with ACTION_NOT_CONFIGURED. */
export function registerBuiltinActions(registry: ActionRegistry, config: SluiceConfig["actions"]): void {
  registry.register(emailSend(config.email, config.callTimeoutMs));
  registry.register(gmailSend(config.gmail));
  registry.register(outlookSend(config.outlook));
  registry.register(taskCreate);
  const github = githubActions(config.github);
  registry.register(github.create);
  registry.register(github.comment);
  registry.register(webhookPost(config.webhook));
}
